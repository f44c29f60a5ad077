//! The token methods of the XML-RPC table (admin only, see [`super::roles`]):
//! `supervisor_rs.createToken(name, role)` returns the new token (the only time it is
//! shown), `supervisor_rs.listTokens()` the `{name, role, created}` of each, and
//! `supervisor_rs.revokeToken(name)` deletes one.

use supervisor_config::Role;
use supervisor_protocol::{Fault, FaultCode, Value};

use super::tokens;
use crate::rpc::{Backend, Outcome};

fn arg(params: &[Value], i: usize) -> Result<&str, Fault> {
    params
        .get(i)
        .and_then(Value::as_str)
        .ok_or_else(|| Fault::bare(FaultCode::IncorrectParameters))
}

fn done(r: Result<Value, Fault>) -> Outcome {
    Outcome::Done(r)
}

/// `supervisor_rs.createToken(name, role)`.
pub fn create_token(b: &mut dyn Backend, params: &[Value]) -> Outcome {
    let r = (|| {
        let name = arg(params, 0)?;
        let role = arg(params, 1)?;
        let role = Role::from_name(role).ok_or_else(|| {
            Fault::new(
                FaultCode::BadArguments,
                format!("unknown role {role:?} (expected read, operate or admin)"),
            )
        })?;
        if !tokens::valid_name(name) {
            return Err(Fault::new(
                FaultCode::BadArguments,
                format!("invalid token name {name:?} (1 to 64 letters, digits, '_', '-', '.')"),
            ));
        }
        let now = b.now() as i64;
        tokens::store(|s| s.create(name, role, now))
            .map(Value::from)
            .map_err(|e| Fault::new(FaultCode::Failed, e))
    })();
    done(r)
}

/// `supervisor_rs.listTokens()`.
pub fn list_tokens(_: &mut dyn Backend, _: &[Value]) -> Outcome {
    let list = tokens::store(|s| s.list());
    done(Ok(Value::Array(
        list.into_iter()
            .map(|e| {
                Value::Struct(vec![
                    ("name".into(), Value::from(e.name.as_str())),
                    ("role".into(), Value::from(e.role.name())),
                    (
                        "created".into(),
                        Value::Int(e.created.clamp(0, i32::MAX as i64) as i32),
                    ),
                ])
            })
            .collect(),
    )))
}

/// `supervisor_rs.revokeToken(name)`.
pub fn revoke_token(_: &mut dyn Backend, params: &[Value]) -> Outcome {
    let r = (|| {
        let name = arg(params, 0)?;
        let exists = tokens::store(|s| s.list().iter().any(|e| e.name == name));
        if !exists {
            return Err(Fault::new(FaultCode::BadName, name));
        }
        tokens::store(|s| s.revoke(name))
            .map(|()| Value::Bool(true))
            .map_err(|e| Fault::new(FaultCode::Failed, e))
    })();
    done(r)
}
