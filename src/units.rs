//! How numbers are written: sizes for people (`1.2 MB`, as `docker image ls` prints them), and Go's
//! renderings of floats and sizes where layerscope must print what dive prints.

/// Human-readable SI size (`1.2 MB`), as `docker image ls` prints sizes.
pub fn human_bytes(n: u64) -> String {
    bytesize::ByteSize(n).display().si().to_string()
}

/// Go's `%v` / encoding/json rendering of a float64 (shortest round-trip digits).
pub fn go_float(v: f64, json: bool) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: d.ddddde±x.
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if v < 0.0 { "-" } else { "" };
    // encoding/json switches at 1e-6 and 1e21; %v (strconv 'g', shortest) at exponents -4 and 6.
    let use_exp = if json { v.abs() < 1e-6 || v.abs() >= 1e21 } else { !(-4..6).contains(&exp) };
    if use_exp {
        let rest = &digits[1..];
        let dot = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let es = if json && exp < 0 {
            format!("-{}", -exp)
        } else {
            format!("{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
        };
        return format!("{sign}{}{dot}e{es}", &digits[..1]);
    }
    let point = exp + 1; // digits before the decimal point
    if point <= 0 {
        format!("{sign}0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{sign}{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..point as usize], &digits[point as usize..])
    }
}

/// Go's `%2.4f` of a percentage, with dive's spellings of NaN and infinity.
pub fn go_percent4(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v:.4}")
    }
}

/// go-humanize's `Bytes`: SI units, one decimal below 10 (`32 kB`, `6.4 kB`).
pub fn humanize_bytes(n: u64) -> String {
    if n < 10 {
        return format!("{n} B");
    }
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut e = 0;
    while e + 1 < UNITS.len() && n as f64 >= 1000f64.powi(e as i32 + 1) {
        e += 1;
    }
    let val = (n as f64 / 1000f64.powi(e as i32) * 10.0 + 0.5).floor() / 10.0;
    if val < 10.0 { format!("{val:.1} {}", UNITS[e]) } else { format!("{val:.0} {}", UNITS[e]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go() {
        assert_eq!(go_float(0.9844212134184309, true), "0.9844212134184309");
        assert_eq!(go_float(1.0, true), "1");
        assert_eq!(go_float(0.0, true), "0");
        assert_eq!(go_float(0.5, true), "0.5");
        assert_eq!(go_float(1.25, false), "1.25");
        assert_eq!(go_float(1e-7, true), "1e-7");
        assert_eq!(go_float(1e-7, false), "1e-07");
        assert_eq!(go_float(123456789.0, true), "123456789");
        assert_eq!(go_float(f64::NAN, false), "NaN");
        assert_eq!(go_float(f64::INFINITY, false), "+Inf");
        assert_eq!(go_float(0.00012, false), "0.00012");
        assert_eq!(go_float(1234567.0, false), "1.234567e+06");
        assert_eq!(go_float(1234567.0, true), "1234567");
    }

    #[test]
    fn humanizes_like_go_humanize() {
        assert_eq!(humanize_bytes(32025), "32 kB");
        assert_eq!(humanize_bytes(12810), "13 kB");
        assert_eq!(humanize_bytes(6405), "6.4 kB");
        assert_eq!(humanize_bytes(700), "700 B");
        assert_eq!(humanize_bytes(9), "9 B");
        assert_eq!(humanize_bytes(1_220_598), "1.2 MB");
    }

    #[test]
    fn percentages_like_go() {
        assert_eq!(go_percent4(98.44212134184309), "98.4421");
        assert_eq!(go_percent4(f64::NAN), "NaN");
        assert_eq!(go_percent4(f64::INFINITY), "+Inf");
    }
}
