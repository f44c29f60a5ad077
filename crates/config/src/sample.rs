pub const SAMPLE_CONF: &str = "";
