//! SASRec's hand-written encoder draws the same dropout masks as its dfdx `encode` for the
//! same seed, so the two agree while training too: outputs and every gradient. The same for
//! BSARec (SASRec with the causal frequency branch), whose low-pass and `β` have no other
//! check than this one against dfdx's gradients.

use dfdx::prelude::*;
use netrex_representations::{
    BackwardPass, FrequencySpec, Sasrec, SasrecSpec, SequenceRepresentation, SequenceRows,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[test]
fn host_and_dfdx_agree_under_dropout() {
    agree(None);
}

#[test]
fn bsarec_host_and_dfdx_agree_under_dropout() {
    // a window shorter than the rows: the taps stop at lag 3; another longer than them
    for (cutoff, window) in [(2, 4), (3, 50)] {
        agree(Some(FrequencySpec {
            mix: 0.7,
            cutoff,
            window,
            learned: false,
        }));
    }
}

#[test]
fn fmlp_host_and_dfdx_agree_under_dropout() {
    // FMLP-Rec (a learned filter alone), and a learned filter beside attention
    for (mix, window) in [(1.0, 4), (0.5, 50)] {
        agree(Some(FrequencySpec {
            mix,
            cutoff: 2,
            window,
            learned: true,
        }));
    }
}

#[test]
fn bsarec_taps_are_the_last_row_of_the_low_pass_projection() {
    // projecting a window onto its lowest bins and reading the last step, by a direct DFT
    let (n, cutoff) = (7usize, 3usize);
    let f = FrequencySpec {
        mix: 0.5,
        cutoff,
        window: n,
        learned: false,
    };
    let taps = f.taps();
    let x: Vec<f64> = (0..n).map(|i| ((i * 7 + 3) % 5) as f64 - 2.0).collect();
    let mut last = 0.0;
    for k in 0..n {
        // bin k is kept when it or its conjugate is among the lowest `cutoff`
        if k.min(n - k) >= cutoff {
            continue;
        }
        let angle = |s: usize| 2.0 * std::f64::consts::PI * (k * s) as f64 / n as f64;
        let re: f64 = (0..n).map(|s| x[s] * angle(s).cos()).sum();
        let im: f64 = (0..n).map(|s| -x[s] * angle(s).sin()).sum();
        let at = angle(n - 1);
        last += (re * at.cos() - im * at.sin()) / n as f64;
    }
    let by_taps: f64 = (0..n).map(|j| f64::from(taps[j]) * x[n - 1 - j]).sum();
    assert!((last - by_taps).abs() < 1e-5, "{last} vs {by_taps}");
}

fn agree(frequency: Option<FrequencySpec>) {
    let mut rng = StdRng::seed_from_u64(3);
    let (items, d, b, t) = (7usize, 4usize, 10usize, 6usize);
    let spec = SasrecSpec {
        blocks: 2,
        heads: 2,
        dropout: 0.4,
        positions: 5,
        frequency,
    };
    let model = Sasrec::new(items, d, &spec, &mut rng).unwrap();
    // left-padded rows, one of them padding only
    let mut ids = Vec::new();
    for r in 0..b {
        let real = if r == 0 { 0 } else { rng.gen_range(1..t) };
        ids.extend(std::iter::repeat_n(0u32, t - real));
        ids.extend((0..real).map(|_| rng.gen_range(1..=items as u32)));
    }
    let table = &model.tables()[0];
    let x: Vec<f32> = ids
        .iter()
        .flat_map(|&i| table.row(i as usize).to_vec())
        .collect();
    let seed = 42;
    let encoder = model.host_encoder().unwrap();
    let trace = encoder.forward_training(&x, &ids, b, seed);

    let dev = Cpu::default();
    let inputs = dev.tensor_from_vec(x.clone(), (b, t, d));
    let whole: Vec<Tensor<(usize, usize), f32, Cpu>> = model.tables()[2..]
        .iter()
        .map(|w| dev.tensor_from_vec(w.data().to_vec(), (w.rows(), w.cols())))
        .collect();
    let out = model.encode(SequenceRows {
        inputs: inputs.leaky_trace(),
        ids: ids.clone(),
        whole: whole.iter().map(|w| w.leaky_trace()).collect(),
        dropout_seed: Some(seed),
    });
    let expected = out.retaped::<NoneTape>().as_vec();
    let dropped = trace.outputs.iter().filter(|&&v| v == 0.0).count();
    for (i, (a, e)) in trace.outputs.iter().zip(&expected).enumerate() {
        assert!(
            (a - e).abs() < 1e-4 * (1.0 + e.abs()),
            "output {i}: {a} vs {e}"
        );
    }
    // padding positions are zero in both; masks dropped nothing there to count
    assert!(dropped >= t - 1);

    // a random linear function of the outputs: its gradients by both paths
    let r: Vec<f32> = (0..b * t * d).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let loss = (out * dev.tensor_from_vec(r.clone(), (b, t, d))).sum::<(), _>();
    let grads = loss.backward();
    let mut d_inputs = vec![0.0f32; x.len()];
    let mut d_whole: Vec<Vec<f32>> = whole.iter().map(|w| vec![0.0; w.as_vec().len()]).collect();
    let pass = BackwardPass {
        inputs: &x,
        ids: &ids,
        trace: &trace,
        d_outputs: &r,
    };
    encoder.backward(pass, &mut d_inputs, &mut d_whole);
    let close = |what: String, a: &[f32], e: &[f32]| {
        for (k, (x, y)) in a.iter().zip(e).enumerate() {
            assert!(
                (x - y).abs() < 1e-3 * (1.0 + y.abs()),
                "{what}[{k}]: {x} vs {y}"
            );
        }
    };
    close("inputs".into(), &d_inputs, &grads.get(&inputs).as_vec());
    for (k, w) in whole.iter().enumerate() {
        close(
            model.tables()[k + 2].name().to_owned(),
            &d_whole[k],
            &grads.get(w).as_vec(),
        );
    }
}
