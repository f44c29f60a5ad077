//! Main-log levels: the names users write (`loglevel=`, `-e`), the reference's numbers
//! and the four-letter tags of a main-log line.

/// Main-log levels with the reference's numbers (ordered from most to least verbose).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// `blather` (3).
    Blather = 3,
    /// `trace` (5).
    Trace = 5,
    /// `debug` (10).
    Debug = 10,
    /// `info` (20).
    Info = 20,
    /// `warn` (30).
    Warn = 30,
    /// `error` (40).
    Error = 40,
    /// `critical` (50).
    Critical = 50,
}

impl LogLevel {
    /// Every level, most verbose first.
    pub const ALL: [LogLevel; 7] = [
        LogLevel::Blather,
        LogLevel::Trace,
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
        LogLevel::Critical,
    ];

    /// The 4-letter tag printed in the main log (`INFO`, `DEBG`, ...).
    pub const fn tag(self) -> &'static str {
        match self {
            LogLevel::Blather => "BLAT",
            LogLevel::Trace => "TRAC",
            LogLevel::Debug => "DEBG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERRO",
            LogLevel::Critical => "CRIT",
        }
    }

    /// The name a user writes (`critical`, `error`, `warn`, `info`, `debug`, `trace`,
    /// `blather`).
    pub const fn name(self) -> &'static str {
        match self {
            LogLevel::Blather => "blather",
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
        }
    }

    /// The reference's number of the level (`info` is 20).
    pub const fn number(self) -> u8 {
        self as u8
    }

    /// The level a name stands for, in any case (`WARN`); `warning` and other spellings
    /// are not levels, as in the reference.
    pub fn from_name(name: &str) -> Option<LogLevel> {
        let lower = name.to_lowercase();
        LogLevel::ALL.into_iter().find(|l| l.name() == lower)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_tags() {
        let got: Vec<(&str, u8, &str)> = LogLevel::ALL
            .iter()
            .map(|l| (l.name(), l.number(), l.tag()))
            .collect();
        assert_eq!(
            got,
            [
                ("blather", 3, "BLAT"),
                ("trace", 5, "TRAC"),
                ("debug", 10, "DEBG"),
                ("info", 20, "INFO"),
                ("warn", 30, "WARN"),
                ("error", 40, "ERRO"),
                ("critical", 50, "CRIT"),
            ]
        );
        assert!(LogLevel::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn parsing() {
        for l in LogLevel::ALL {
            assert_eq!(LogLevel::from_name(l.name()), Some(l));
            assert_eq!(LogLevel::from_name(&l.name().to_uppercase()), Some(l));
        }
        assert_eq!(LogLevel::from_name("WARN"), Some(LogLevel::Warn));
        assert_eq!(LogLevel::from_name("blather"), Some(LogLevel::Blather));
        for bad in ["warning", "", " info", "info ", "fatal", "3", "crit"] {
            assert_eq!(LogLevel::from_name(bad), None, "{bad:?}");
        }
    }
}
