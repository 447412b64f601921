//! What the commands print: metrics as text or JSON, epochs, recommendations.

use serde_json::{json, Value};

use netrex::evaluation::Report;
use netrex::Catalog;

/// The full-ranking metrics of a factorization model (or the popularity baseline) as JSON.
pub(crate) fn metrics_json(report: &Report) -> Value {
    let at = |k: usize| report.at(k).copied().unwrap_or_default();
    json!({
        "mrr": report.mrr,
        "auc": report.auc,
        "precision_at_10": at(10).precision,
        "recall_at_10": at(10).recall,
        "ndcg_at_10": at(10).ndcg,
        "hit_rate_at_10": at(10).hit_rate,
        "test_users": report.per_user.len(),
    })
}

/// The same metrics as one line of text.
pub(crate) fn metrics_text(report: &Report) -> String {
    let at10 = report.at(10).copied().unwrap_or_default();
    format!(
        "test: MRR {:.4}  AUC {:.4}  P@10 {:.4}  R@10 {:.4}  NDCG@10 {:.4}  ({} users)",
        report.mrr,
        report.auc,
        at10.precision,
        at10.recall,
        at10.ndcg,
        report.per_user.len()
    )
}

/// Each epoch's mean loss on stderr, the first being epoch `first` (a resumed run goes on
/// counting where its checkpoint stopped).
pub(crate) fn print_epochs(first: usize, history: &[f32]) {
    for (k, l) in history.iter().enumerate() {
        eprintln!("epoch {:>3}: loss {l:.4}", first + k);
    }
}

/// `out` with the fields of the object `more` added.
pub(crate) fn merge(out: &mut Value, more: Value) {
    if let Value::Object(fields) = more {
        for (k, v) in fields {
            out[k.as_str()] = v;
        }
    }
}

/// Prints recommendations as text, or as `header` plus an `items` list in JSON.
pub(crate) fn print_recommendations(
    recs: &[(u32, f32)],
    catalog: &Catalog,
    mut header: Value,
    as_json: bool,
) {
    if as_json {
        let list: Vec<_> = recs
            .iter()
            .map(|&(i, s)| json!({"item": catalog.item_raw(i).to_string(), "title": catalog.title(i), "score": s}))
            .collect();
        header["items"] = json!(list);
        println!("{header}");
    } else {
        for (rank, &(i, s)) in recs.iter().enumerate() {
            println!(
                "{:>3}. {:<8} {:<60} {:.4}",
                rank + 1,
                catalog.item_raw(i).to_string(),
                catalog.title(i).unwrap_or(""),
                s
            );
        }
    }
}
