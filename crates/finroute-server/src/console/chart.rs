//! The channels page's charts: SVG drawn on the server from a channel's
//! last hour ([`crate::recent`]), so the page needs no script and no
//! chart library. Colours come from the stylesheet by class (`s0`..`s6`
//! for the statuses, `l0`/`l1` for lines), which keeps inline styles out
//! of the page (the content-security-policy allows none).

use std::fmt::Write as _;

use crate::recent::{MINUTES, Minute, STATUSES};

const W: f64 = 600.0;
const H: f64 = 120.0;
/// Room on the left for the axis label.
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 16.0;

/// The smallest "round" number at or above `v` (1, 2, 5 × 10^k), at least 1.
fn nice_ceiling(v: f64) -> f64 {
    if !(v.is_finite() && v > 1.0) {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for step in [1.0, 2.0, 5.0, 10.0] {
        if step * mag >= v {
            return step * mag;
        }
    }
    10.0 * mag
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The frame: the y-axis maximum, the baseline, and the time labels.
fn frame(out: &mut String, title: &str, y_max: &str, ago: &str, now: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{title}" xmlns="http://www.w3.org/2000/svg"><title>{title}</title><line class="axis" x1="{LEFT}" y1="{base}" x2="{w}" y2="{base}"/><line class="grid" x1="{LEFT}" y1="0" x2="{w}" y2="0"/><text class="tick" x="{lx}" y="10" text-anchor="end">{y_max}</text><text class="tick" x="{lx}" y="{base}" text-anchor="end">0</text><text class="tick" x="{LEFT}" y="{ty}">{ago}</text><text class="tick" x="{w}" y="{ty}" text-anchor="end">{now}</text>"#,
        w = W,
        h = H + BOTTOM,
        base = H,
        lx = LEFT - 4.0,
        ty = H + BOTTOM - 2.0,
        title = escape(title),
        y_max = escape(y_max),
        ago = escape(ago),
        now = escape(now),
    );
}

fn bar_width() -> f64 {
    (W - LEFT) / MINUTES as f64
}

/// Reports per minute, stacked by status (class `s<i>` in [`STATUSES`]
/// order), with each bar's counts as its tooltip.
pub fn calls_by_status(hour: &[Minute], title: &str, ago: &str, now: &str) -> String {
    let max = hour.iter().map(|m| m.total_calls()).max().unwrap_or(0);
    let top = nice_ceiling(f64::from(max));
    let mut out = String::new();
    frame(&mut out, title, &format!("{top}"), ago, now);
    let bw = bar_width();
    for (i, m) in hour.iter().enumerate() {
        let x = LEFT + i as f64 * bw;
        let mut y = H;
        for (s, count) in m.calls.iter().enumerate() {
            if *count == 0 {
                continue;
            }
            let h = f64::from(*count) / top * H;
            y -= h;
            let _ = write!(
                out,
                r#"<rect class="s{s}" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}"><title>{n} × {status}</title></rect>"#,
                w = (bw - 1.0).max(1.0),
                n = count,
                status = crate::convert::channel_status_name(STATUSES[s]),
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// Lines over the hour: each series (class `l<i>`) a polyline broken
/// where a minute has no value; `y_top` the axis maximum (`None`: the
/// data's, rounded up) and `unit` after it.
pub fn lines(
    series: &[Vec<Option<f64>>],
    y_top: Option<f64>,
    unit: &str,
    title: &str,
    ago: &str,
    now: &str,
) -> String {
    let data_max = series
        .iter()
        .flatten()
        .flatten()
        .copied()
        .fold(0.0f64, f64::max);
    let top = y_top.unwrap_or_else(|| nice_ceiling(data_max));
    let mut out = String::new();
    frame(&mut out, title, &format!("{top}{unit}"), ago, now);
    let bw = bar_width();
    for (k, values) in series.iter().enumerate() {
        let mut run: Vec<(f64, f64)> = Vec::new();
        let flush = |run: &mut Vec<(f64, f64)>, out: &mut String| {
            match run.len() {
                0 => {}
                1 => {
                    let (x, y) = run[0];
                    let _ = write!(
                        out,
                        r#"<circle class="l{k}" cx="{x:.1}" cy="{y:.1}" r="2"/>"#
                    );
                }
                _ => {
                    let points: Vec<String> =
                        run.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
                    let _ = write!(
                        out,
                        r#"<polyline class="l{k}" points="{}"/>"#,
                        points.join(" ")
                    );
                }
            }
            run.clear();
        };
        for (i, v) in values.iter().enumerate() {
            match v {
                Some(v) if v.is_finite() => {
                    let x = LEFT + (i as f64 + 0.5) * bw;
                    let y = H - (v.min(top).max(0.0) / top * H);
                    run.push((x, y));
                }
                _ => flush(&mut run, &mut out),
            }
        }
        flush(&mut run, &mut out);
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recent::Recent;
    use finroute_core::ChannelStatus;

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(1.0), 1.0);
        assert_eq!(nice_ceiling(3.0), 5.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(11.0), 20.0);
        assert_eq!(nice_ceiling(480.0), 500.0);
        assert_eq!(nice_ceiling(f64::NAN), 1.0);
    }

    #[test]
    fn bars_stack_each_status_and_scale_to_the_busiest_minute() {
        let r = Recent::default();
        let t = 29_000_000;
        for _ in 0..3 {
            r.report(t, ChannelStatus::Ok, Some(5));
        }
        r.report(t, ChannelStatus::Timeout, Some(900));
        r.report(t - 1, ChannelStatus::Ok, Some(5));
        let svg = calls_by_status(&r.hour(t), "Calls <all>", "60 min ago", "now");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 3, "{svg}");
        assert!(svg.contains(r#"class="s0""#) && svg.contains(r#"class="s2""#));
        assert!(svg.contains("<title>3 × ok</title>"), "{svg}");
        assert!(svg.contains("Calls &lt;all&gt;"), "titles are escaped");
        // 4 calls in the busiest minute: the axis top is 5, three ok are
        // 3/5 of the height.
        assert!(svg.contains(">5</text>"), "{svg}");
        assert!(svg.contains(r#"height="72.0""#), "{svg}");
        assert!(!svg.contains("style="), "no inline styles");
    }

    #[test]
    fn lines_break_where_minutes_have_no_value() {
        let mut a = vec![None; MINUTES];
        a[10] = Some(50.0);
        a[11] = Some(100.0);
        a[40] = Some(20.0);
        let svg = lines(&[a], None, " ms", "Latency", "ago", "now");
        assert_eq!(svg.matches("<polyline").count(), 1, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 1, "{svg}");
        assert!(svg.contains(">100 ms</text>"), "{svg}");
        let empty = lines(&[vec![None; MINUTES]], Some(100.0), "%", "Rate", "a", "b");
        assert!(!empty.contains("<polyline") && !empty.contains("<circle"));
    }
}
