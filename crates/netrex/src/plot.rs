//! SVG charts of training and evaluation (plotters' SVG backend; text is left to the viewer's
//! fonts, so no font library is built).

use std::path::Path;

use plotters::prelude::*;

use netrex_evaluation::Report;

use netrex_train::NetrexError;

fn failed(path: &Path) -> impl Fn(String) -> NetrexError + '_ {
    move |message| NetrexError::Plot {
        path: path.to_owned(),
        message,
    }
}

/// `(min, max)` of `values` with a margin, never empty.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(1e-6);
    (lo - pad, hi + pad)
}

/// The training curve: mean loss per epoch and, if given, test MRR at the epochs it was
/// measured (`(epoch, mrr)`), in two panels, written to `path` as SVG.
pub fn training_curve(
    path: &Path,
    title: &str,
    losses: &[f32],
    mrr: &[(usize, f64)],
) -> Result<(), NetrexError> {
    let fail = failed(path);
    let height = if mrr.is_empty() { 360 } else { 640 };
    let root = SVGBackend::new(path, (720, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let root = root
        .titled(title, ("sans-serif", 20))
        .map_err(|e| fail(e.to_string()))?;
    let panels = if mrr.is_empty() {
        vec![root]
    } else {
        root.split_evenly((2, 1))
    };
    let epochs = losses.len().max(1) as f64;
    let points: Vec<(f64, f64)> = losses
        .iter()
        .enumerate()
        .map(|(i, &l)| ((i + 1) as f64, f64::from(l)))
        .collect();
    epoch_panel(&panels[0], epochs, &points, ("mean training loss", BLUE)).map_err(&fail)?;
    if let Some(panel) = panels.get(1) {
        let points: Vec<(f64, f64)> = mrr.iter().map(|&(e, m)| (e as f64, m)).collect();
        epoch_panel(panel, epochs, &points, ("test MRR", RED)).map_err(&fail)?;
    }
    panels[0].present().map_err(|e| fail(e.to_string()))?;
    Ok(())
}

/// One panel of a value against the epoch: a line with a dot at each point.
fn epoch_panel(
    panel: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    epochs: f64,
    points: &[(f64, f64)],
    (label, color): (&str, RGBColor),
) -> Result<(), String> {
    let (lo, hi) = range(points.iter().map(|p| p.1));
    let mut chart = ChartBuilder::on(panel)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0.5..epochs + 0.5, lo..hi)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(label)
        .draw()
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(LineSeries::new(points.to_vec(), color.stroke_width(2)))
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Reads one metric of a cut-off.
type Metric = fn(&netrex_evaluation::AtK) -> f64;

/// Precision, recall and NDCG against k from a [`Report`], written to `path` as SVG.
pub fn metrics_at_k(path: &Path, title: &str, report: &Report) -> Result<(), NetrexError> {
    let fail = failed(path);
    if report.at_k.is_empty() {
        return Err(fail("the report has no metrics at k".into()));
    }
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let max_k = report.at_k.iter().map(|m| m.k).max().unwrap_or(1) as f64;
    let (_, hi) = range(
        report
            .at_k
            .iter()
            .flat_map(|m| [m.precision, m.recall, m.ndcg]),
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_k + 1.0, 0.0..hi.max(1e-3))
        .map_err(|e| fail(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("k")
        .y_desc("metric at k")
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    let series: [(&str, RGBColor, Metric); 3] = [
        ("precision", BLUE, |m| m.precision),
        ("recall", RED, |m| m.recall),
        ("NDCG", GREEN, |m| m.ndcg),
    ];
    for (name, color, value) in series {
        let points: Vec<(f64, f64)> = report.at_k.iter().map(|m| (m.k as f64, value(m))).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|e| fail(e.to_string()))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(|e| fail(e.to_string()))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| fail(e.to_string()))?;
    root.present().map_err(|e| fail(e.to_string()))?;
    Ok(())
}
