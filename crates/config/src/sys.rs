//! The few operating-system lookups the loader needs: the password and group databases
//! (through NSS, like Python's `pwd`/`grp`), the real uid and the host name.
//!
//! With the `os` cargo feature (on by default) they call `nix`. Without it (a build that
//! only needs the model types, such as `supervisor-core`) nothing here touches the OS:
//! every user and group lookup finds nothing, so a config naming a user or group fails
//! with the usual `Invalid user name ...` style message followed by
//! [`LOOKUP_UNAVAILABLE`]; `~` expands only through `$HOME`; the uid is reported as
//! [`UNKNOWN_UID`] and the host name as the empty string (what a failed `gethostname`
//! gives with the feature).

/// An entry of the password database: what the loader uses of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    /// The numeric user id.
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
    /// The home directory.
    pub dir: String,
}

/// Appended to user/group lookup errors in a build without the `os` feature (empty with it,
/// so messages match the reference exactly).
#[cfg(feature = "os")]
pub const LOOKUP_UNAVAILABLE: &str = "";
/// Appended to user/group lookup errors in a build without the `os` feature (empty with it,
/// so messages match the reference exactly).
#[cfg(not(feature = "os"))]
pub const LOOKUP_UNAVAILABLE: &str =
    " (user and group lookups are unavailable: supervisor-config was built without its `os` feature)";

/// The uid reported by [`getuid`] in a build without the `os` feature: no real account has it.
pub const UNKNOWN_UID: u32 = u32::MAX;

#[cfg(feature = "os")]
fn entry(u: nix::unistd::User) -> UserEntry {
    UserEntry {
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
        dir: u.dir.to_string_lossy().into_owned(),
    }
}

/// The password entry of a user name, if it exists.
pub fn user_by_name(name: &str) -> Option<UserEntry> {
    #[cfg(feature = "os")]
    {
        nix::unistd::User::from_name(name).ok().flatten().map(entry)
    }
    #[cfg(not(feature = "os"))]
    {
        let _ = name;
        None
    }
}

/// The password entry of a uid, if it exists.
pub fn user_by_uid(uid: u32) -> Option<UserEntry> {
    #[cfg(feature = "os")]
    {
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten()
            .map(entry)
    }
    #[cfg(not(feature = "os"))]
    {
        let _ = uid;
        None
    }
}

/// The gid of a group name, if the group exists.
pub fn group_by_name(name: &str) -> Option<u32> {
    #[cfg(feature = "os")]
    {
        nix::unistd::Group::from_name(name)
            .ok()
            .flatten()
            .map(|g| g.gid.as_raw())
    }
    #[cfg(not(feature = "os"))]
    {
        let _ = name;
        None
    }
}

/// The gid itself if a group with that gid exists.
pub fn group_by_gid(gid: u32) -> Option<u32> {
    #[cfg(feature = "os")]
    {
        nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid))
            .ok()
            .flatten()
            .map(|g| g.gid.as_raw())
    }
    #[cfg(not(feature = "os"))]
    {
        let _ = gid;
        None
    }
}

/// The real uid of this process ([`UNKNOWN_UID`] without the `os` feature).
pub fn getuid() -> u32 {
    #[cfg(feature = "os")]
    {
        nix::unistd::getuid().as_raw()
    }
    #[cfg(not(feature = "os"))]
    {
        UNKNOWN_UID
    }
}

/// The host name as Python's `platform.node()` reports it (empty when unknown, and always
/// empty without the `os` feature).
pub fn hostname() -> String {
    #[cfg(feature = "os")]
    {
        nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "os"))]
    {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "os")]
    #[test]
    fn lookups_find_root() {
        assert_eq!(user_by_name("root").map(|u| u.uid), Some(0));
        assert_eq!(user_by_uid(0).map(|u| u.gid), Some(0));
        assert_eq!(group_by_gid(0), Some(0));
        assert!(user_by_name("no-such-user-xyz").is_none());
        assert!(LOOKUP_UNAVAILABLE.is_empty());
        assert_eq!(getuid(), nix::unistd::getuid().as_raw());
    }

    #[cfg(not(feature = "os"))]
    #[test]
    fn lookups_are_unavailable() {
        assert_eq!(user_by_name("root"), None);
        assert_eq!(user_by_uid(0), None);
        assert_eq!(group_by_name("root"), None);
        assert_eq!(group_by_gid(0), None);
        assert_eq!(getuid(), UNKNOWN_UID);
        assert_eq!(hostname(), "");
        assert!(!LOOKUP_UNAVAILABLE.is_empty());
        // the loader's messages say why a user cannot be found
        assert_eq!(
            crate::datatypes::name_to_uid("root").unwrap_err(),
            format!("Invalid user name root{LOOKUP_UNAVAILABLE}")
        );
        assert_eq!(
            crate::datatypes::name_to_gid("0").unwrap_err(),
            format!("Invalid group id 0{LOOKUP_UNAVAILABLE}")
        );
    }
}
