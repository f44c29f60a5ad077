//! Static files compiled into the binary: the page's stylesheet, script and icon. Nothing
//! is fetched from elsewhere, so the UI works with no network access.

/// (path relative to the site root, content type, bytes).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "stylesheets/supervisor.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/supervisor.css"),
    ),
    (
        "assets/app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/app.js"),
    ),
    (
        "images/icon.svg",
        "image/svg+xml",
        include_bytes!("../assets/icon.svg"),
    ),
    (
        "images/icon.png",
        "image/png",
        include_bytes!("../assets/icon.png"),
    ),
];

/// The embedded file at `path` (relative, no leading `/`): `(content_type, bytes)`.
/// Only the exact paths listed are served; there is no file system behind this.
pub fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    ASSETS
        .iter()
        .find(|(p, _, _)| *p == path)
        .map(|(_, t, b)| (*t, *b))
}

/// Every embedded path (for documentation and tests).
pub fn paths() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(p, _, _)| *p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_present_and_typed() {
        for p in paths() {
            let (t, b) = asset(p).unwrap();
            assert!(!b.is_empty(), "{p} is empty");
            assert!(!t.is_empty());
        }
        assert!(asset("/assets/app.js").is_none());
        assert!(asset("assets/../assets/app.js").is_none());
        let png = asset("images/icon.png").unwrap().1;
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn the_script_uses_no_html_sinks() {
        // The page script builds DOM with textContent only; these sinks would let a
        // process name or log line become markup.
        let js = std::str::from_utf8(asset("assets/app.js").unwrap().1).unwrap();
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!js.contains(sink), "app.js uses {sink}");
        }
    }
}
