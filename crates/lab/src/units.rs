//! Parsing of the small value languages a lab file uses: durations (`300ms`, `5s`, `10m`), byte
//! sizes (`64KiB`), signal names (`SIGUSR1` or `USR1`) and octal file modes (`"0640"`).
//! Each parser returns a message fit to show an instructor; none of them panics.

use std::time::Duration;

use nix::sys::signal::Signal;

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().map_err(|_| {
        format!("`{text}` is not a duration: write a number and a unit, e.g. `300ms`, `5s`, `10m`")
    })?;
    let factor = match unit.trim() {
        "ms" => 0.001,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "" => {
            return Err(format!(
                "`{text}` has no unit: write e.g. `{text}s` or `{text}ms`"
            ));
        }
        other => {
            return Err(format!(
                "unknown time unit `{other}` in `{text}`: use ms, s or m"
            ));
        }
    };
    let seconds = value * factor;
    if !seconds.is_finite() || seconds <= 0.0 || seconds > 24.0 * 3600.0 {
        return Err(format!("`{text}` must be more than 0 and at most a day"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: usize = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size: write e.g. `64KiB`, `1MiB` or `4096B`"))?;
    let factor = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{text}`: use B, KiB or MiB"
            ));
        }
    };
    match value.checked_mul(factor) {
        Some(bytes) if bytes > 0 && bytes <= 64 << 20 => Ok(bytes),
        _ => Err(format!("`{text}` must be between 1 byte and 64 MiB")),
    }
}

/// Accepts `SIGUSR1`, `USR1` and any case; rejects numbers so the file stays readable.
pub fn parse_signal(text: &str) -> Result<Signal, String> {
    let upper = text.trim().to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>().map_err(|_| {
        format!("`{text}` is not a signal name: use a name such as SIGINT, SIGUSR1 or SIGTERM")
    })
}

pub fn parse_mode(text: &str) -> Result<u32, String> {
    let t = text.trim();
    if t.is_empty() || t.len() > 4 || !t.chars().all(|c| ('0'..='7').contains(&c)) {
        return Err(format!(
            "`{text}` is not an octal file mode: write it as a string like \"0640\""
        ));
    }
    u32::from_str_radix(t, 8).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("5").unwrap_err().contains("no unit"));
        assert!(
            parse_duration("5h")
                .unwrap_err()
                .contains("unknown time unit")
        );
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("0s").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("1GB").is_err());
        assert!(parse_size("0B").is_err());
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("SIGUSR1"), Ok(Signal::SIGUSR1));
        assert_eq!(parse_signal("int"), Ok(Signal::SIGINT));
        assert!(parse_signal("SIGFOO").is_err());
        assert!(parse_signal("10").is_err());
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0640"), Ok(0o640));
        assert_eq!(parse_mode("775"), Ok(0o775));
        assert!(parse_mode("0980").is_err());
        assert!(parse_mode("rw-r--r--").is_err());
    }
}
