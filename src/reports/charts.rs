//! Charts as PNG images, drawn with plotters' bitmap backend into memory and
//! encoded with `png`. Text uses the bundled DejaVu Sans (`src/reports/fonts/`,
//! Bitstream Vera licence), registered with plotters' ab_glyph font support,
//! so charts render the same on a bare server without fontconfig or system
//! fonts.

use plotters::prelude::*;
use plotters::style::FontStyle;

/// The bundled font.
pub const FONT_TTF: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");

const FAMILY: &str = "sans-serif";

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font(FAMILY, FontStyle::Normal, FONT_TTF).is_err() {
            tracing::warn!(
                "The bundled chart font could not be registered; charts will have no text."
            );
        }
    });
}

/// A colour from `#rrggbb`.
pub fn rgb(hex: &str) -> RGBColor {
    let h = hex.trim_start_matches('#');
    let p = |i: usize| u8::from_str_radix(h.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0);
    RGBColor(p(0), p(2), p(4))
}

/// Disposition colours, in [`super::dashboard::DISPOSITIONS`] order (hold,
/// duplicate, 03, 01, 86, 11).
pub const DISPOSITION_COLORS: [&str; 6] = [
    "#c0392b", "#a0aec0", "#2c7a7b", "#6b46c1", "#2f855a", "#2b6cb0",
];

/// Colours of duty, MPF and HMF in the duty chart.
pub const DUTY_COLORS: [&str; 3] = ["#2b6cb0", "#2c7a7b", "#a0aec0"];

/// Encodes an RGB buffer as PNG.
fn encode(buf: &[u8], w: u32, h: u32) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header()?;
        writer.write_image_data(buf)?;
    }
    Ok(out)
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("cannot draw a chart: {e}")
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    let n = v / mag;
    let step = if n <= 1.0 {
        1.0
    } else if n <= 2.0 {
        2.0
    } else if n <= 5.0 {
        5.0
    } else {
        10.0
    };
    step * mag
}

fn short(n: f64) -> String {
    let a = n.abs();
    if a >= 1e6 {
        format!("{:.1}M", n / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

/// Stacked bars: one bar per label, one segment per series (name, colour, values).
pub fn stacked_bars(
    title: &str,
    labels: &[String],
    series: &[(&str, &str, Vec<f64>)],
    size: (u32, u32),
) -> anyhow::Result<Vec<u8>> {
    register_font();
    let (w, h) = size;
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let n = labels.len().max(1);
        let totals: Vec<f64> = (0..n)
            .map(|i| {
                series
                    .iter()
                    .map(|s| s.2.get(i).copied().unwrap_or(0.0))
                    .sum()
            })
            .collect();
        let max = nice_max(totals.iter().copied().fold(0.0, f64::max) * 1.05);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FAMILY, 15).into_font().color(&rgb("#1f2933")))
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..max)
            .map_err(err)?;
        let every = n.div_ceil(14).max(1);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(rgb("#edf2f7"))
            .bold_line_style(rgb("#d9e2ec"))
            .x_labels(n)
            .y_labels(5)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6
                    && i >= 0.0
                    && (i as usize) < labels.len()
                    && (i as usize).is_multiple_of(every)
                {
                    labels[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| short(*y))
            .label_style((FAMILY, 11).into_font().color(&rgb("#52606d")))
            .axis_style(rgb("#9aa5b1"))
            .draw()
            .map_err(err)?;
        let mut base = vec![0f64; n];
        for (name, color, values) in series {
            let c = rgb(color);
            let bars: Vec<Rectangle<(f64, f64)>> = (0..n)
                .filter_map(|i| {
                    let v = values.get(i).copied().unwrap_or(0.0);
                    if v <= 0.0 {
                        return None;
                    }
                    let r = Rectangle::new(
                        [(i as f64 - 0.36, base[i]), (i as f64 + 0.36, base[i] + v)],
                        c.filled(),
                    );
                    base[i] += v;
                    Some(r)
                })
                .collect();
            chart
                .draw_series(bars)
                .map_err(err)?
                .label(*name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], c.filled()));
        }
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(rgb("#d9e2ec"))
                .label_font((FAMILY, 11).into_font().color(&rgb("#1f2933")))
                .draw()
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    encode(&buf, w, h)
}

/// Simple bars with a colour each and the value printed above.
pub fn bars(
    title: &str,
    items: &[(String, f64, &str)],
    max: Option<f64>,
    size: (u32, u32),
) -> anyhow::Result<Vec<u8>> {
    register_font();
    let (w, h) = size;
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let n = items.len().max(1);
        let top =
            max.unwrap_or_else(|| nice_max(items.iter().map(|i| i.1).fold(0.0, f64::max) * 1.15));
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FAMILY, 15).into_font().color(&rgb("#1f2933")))
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(rgb("#edf2f7"))
            .bold_line_style(rgb("#d9e2ec"))
            .x_labels(n)
            .y_labels(5)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < items.len() {
                    items[i as usize].0.clone()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| short(*y))
            .label_style((FAMILY, 11).into_font().color(&rgb("#52606d")))
            .axis_style(rgb("#9aa5b1"))
            .draw()
            .map_err(err)?;
        let half = if n > 8 { 0.38 } else { 0.3 };
        chart
            .draw_series(items.iter().enumerate().map(|(i, (_, v, c))| {
                Rectangle::new(
                    [(i as f64 - half, 0.0), (i as f64 + half, *v)],
                    rgb(c).filled(),
                )
            }))
            .map_err(err)?;
        let style = (FAMILY, 11).into_font().color(&rgb("#1f2933")).pos(
            plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Bottom,
            ),
        );
        chart
            .draw_series(items.iter().enumerate().map(|(i, (_, v, _))| {
                let label = if max == Some(100.0) {
                    format!("{v:.1}")
                } else {
                    short(*v)
                };
                Text::new(label, (i as f64, *v + top * 0.01), style.clone())
            }))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    encode(&buf, w, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_png_images_with_ink() {
        let labels: Vec<String> = (1..=14).map(|d| format!("11-{d:02}")).collect();
        let png = stacked_bars(
            "Shipments",
            &labels,
            &[
                ("86", "#2f855a", vec![3.0; 14]),
                ("hold", "#c0392b", vec![1.0; 14]),
            ],
            (640, 240),
        )
        .unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let mut reader = decoder.read_info().unwrap();
        let mut img = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut img).unwrap();
        assert_eq!((info.width, info.height), (640, 240));
        let red = img
            .chunks(3)
            .filter(|p| p[0] > 150 && p[1] < 90 && p[2] < 90)
            .count();
        assert!(red > 500, "the hold segments are drawn ({red} red pixels)");
        let dark = img
            .chunks(3)
            .filter(|p| p[0] < 80 && p[1] < 80 && p[2] < 80)
            .count();
        assert!(
            dark > 50,
            "the title and labels are drawn with the bundled font ({dark} dark pixels)"
        );
        let png = bars(
            "Quality",
            &[
                ("DHLX".into(), 97.5, "#2f855a"),
                ("PCLX".into(), 60.0, "#b7791f"),
            ],
            Some(100.0),
            (640, 200),
        )
        .unwrap();
        assert!(png.len() > 1000);
    }
}
