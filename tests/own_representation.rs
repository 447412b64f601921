//! Runs `examples/own_representation.rs`: representations defined outside netrex's crates
//! train, checkpoint, resume, save and load (every step is checked inside `run`), and learn
//! something on the way.

#[path = "../examples/support/own_representation.rs"]
mod own_representation;

#[test]
fn representations_of_your_own_train_save_load_and_resume() {
    let dir = std::env::temp_dir().join(format!("netrex-own-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let outcome = own_representation::run(&dir).unwrap();
    // better than ranking at random: 100 items (MRR ~0.05) and 20 items (~0.18)
    assert!(outcome.factorization_mrr > 0.06, "{outcome:?}");
    assert!(outcome.sequence_mrr > 0.3, "{outcome:?}");
}
