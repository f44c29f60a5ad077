# A Nomad job running the image of the repository's Dockerfile: supervisord as PID 1 with
# the programs of examples/container/supervisord.conf, registered as a service whose two
# checks are the daemon's health endpoints on the inet server (port 9001):
#   "alive" -> GET /livez   the daemon's loop answers; check_restart restarts the task
#                           after 3 failures in a row
#   "ready" -> GET /readyz  every autostart program RUNNING (or ready) and no critical
#                           program down; 503 with a list otherwise, and the service is
#                           reported unhealthy (not routed to) meanwhile
# The config sets health_auth=false, so the checks need no password. A critical program
# that dies for good makes supervisord exit non-zero, and Nomad restarts the task.
#
#   docker build -t supervisor-rs:latest .
#   nomad job run examples/nomad/supervisor-rs.nomad.hcl
#   nomad alloc logs -job supervisor-rs      (every program's output, prefixed)
job "supervisor-rs" {
  datacenters = ["dc1"]
  type        = "service"

  group "app" {
    count = 1

    network {
      port "supervisor" {
        to = 9001
      }
    }

    service {
      name     = "supervisor-rs"
      port     = "supervisor"
      provider = "nomad"

      check {
        name     = "alive"
        type     = "http"
        path     = "/livez"
        interval = "10s"
        timeout  = "2s"

        check_restart {
          limit = 3
          grace = "10s"
        }
      }

      check {
        name     = "ready"
        type     = "http"
        path     = "/readyz"
        interval = "5s"
        timeout  = "2s"
      }
    }

    restart {
      attempts = 3
      interval = "5m"
      delay    = "10s"
      mode     = "delay"
    }

    task "supervisord" {
      driver = "docker"

      config {
        image = "supervisor-rs:latest"
        ports = ["supervisor"]
      }

      env {
        # Better: a Nomad variable or Vault secret through a template block.
        SUPERVISOR_PASSWORD = "change-me"
      }

      # SIGTERM: supervisord stops its programs in order, each within its stopwaitsecs.
      kill_signal  = "SIGTERM"
      kill_timeout = "60s"

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
