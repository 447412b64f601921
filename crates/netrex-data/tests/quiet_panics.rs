//! `catch_quietly` turns a panic into an error without printing it, and leaves other threads'
//! panics to the hook that was installed before (its own process: the hook is process-wide).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use netrex_data::catch_quietly;

#[test]
fn caught_panics_are_silent_and_others_still_reach_the_previous_hook() {
    let reported = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&reported);
    std::panic::set_hook(Box::new(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    }));

    assert_eq!(catch_quietly(|| 7), Ok(7));
    assert_eq!(
        catch_quietly(|| -> u8 { panic!("bad row {}", 3) }),
        Err("bad row 3".to_string())
    );
    assert_eq!(
        reported.load(Ordering::SeqCst),
        0,
        "a caught panic was reported"
    );

    // quiet sections on some threads while others panic: only the others are reported
    let quiet: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                for i in 0..200 {
                    let r = catch_quietly(|| -> () { panic!("quiet {i}") });
                    assert_eq!(r, Err(format!("quiet {i}")));
                }
            })
        })
        .collect();
    let loud: Vec<_> = (0..8)
        .map(|i| std::thread::spawn(move || -> () { panic!("loud {i}") }))
        .collect();
    for t in quiet {
        t.join().unwrap();
    }
    for t in loud {
        assert!(t.join().is_err());
    }
    assert_eq!(reported.load(Ordering::SeqCst), 8);
}
