//! Score aggregation of a competition: per-image predictions → attack × defense count matrices →
//! raw, normalised and worst-case scores, under the two missing-output policies of NIPS 2017.
//!
//! Input: `predictions[a, d, i]`, the label defense `d` gave to attack `a`'s adversarial version of
//! image `i`, or a marker:
//! - [`MISSING`] (−1): the image exists but the defense gave no label for it;
//! - [`NO_IMAGE`] (−2): attack `a` produced no image for input `i` (must then hold for every defense).
//!
//! Count matrices (attack × defense): `correct` (label = true label), `error` (a label ≠ true label),
//! `hit` (label = target class; counted for every attack, used only for targeted ones), `classified`
//! (a label was given) and `missing` (no label, for either reason). `produced[a]` counts the images
//! attack `a` made.
//!
//! Attack success of one pair: targeted attacks `hit`; non-targeted attacks `error`, plus, under the
//! devkit policy, every missing label. Policies:
//! - `Official` (EVALINFRA `master.py results`): attacks with a missing image are not used to score
//!   defenses; defenses with any missing label are not used to score attacks; missing labels earn
//!   nobody anything.
//! - `Devkit` (`run_attacks_and_defenses.py`): everybody is used; a missing label is a success for a
//!   non-targeted attack, a miss for a targeted one, and not correct for the defense.
//!
//! Scores, over the opponents used (N images):
//! - raw: defense `Σ_a correct`; attack `Σ_d success` (the competition's published integer scores);
//! - normalised: raw / (N · opponents), i.e. the defense's mean accuracy over attacks and the
//!   attack's mean success rate over defenses;
//! - worst case: the defense's minimum accuracy over attacks, the attack's minimum success rate over
//!   defenses.
//!
//! Normalised and worst-case scores are NaN when no opponent is used or there are no images.

use rayon::prelude::*;

use crate::error::{KernelError, Result};

/// The defense gave no label for an image that exists.
pub const MISSING: i64 = -1;
/// The attack produced no image for this input.
pub const NO_IMAGE: i64 = -2;

/// How missing outputs count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Official,
    Devkit,
}

impl Policy {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "official" => Ok(Self::Official),
            "devkit" => Ok(Self::Devkit),
            other => Err(KernelError::Param(format!(
                "unknown missing-output policy {other:?}; use \"official\" or \"devkit\""
            ))),
        }
    }
}

/// What the competition knows about its images and attacks.
#[derive(Debug, Clone, Copy)]
pub struct Setup<'a> {
    pub true_labels: &'a [i64],
    pub target_classes: &'a [i64],
    pub is_targeted: &'a [bool],
    pub n_defenses: usize,
}

/// Count matrices (row-major `[attack][defense]`) and scores.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    pub n_attacks: usize,
    pub n_defenses: usize,
    pub correct: Vec<i64>,
    pub error: Vec<i64>,
    pub hit: Vec<i64>,
    pub classified: Vec<i64>,
    pub missing: Vec<i64>,
    pub produced: Vec<i64>,
    pub attacks_used: Vec<bool>,
    pub defenses_used: Vec<bool>,
    pub defense_raw: Vec<i64>,
    pub defense_score: Vec<f64>,
    pub defense_worst: Vec<f64>,
    pub attack_raw: Vec<i64>,
    pub attack_score: Vec<f64>,
    pub attack_worst: Vec<f64>,
}

#[derive(Default, Clone, Copy)]
struct Cell {
    correct: i64,
    error: i64,
    hit: i64,
    classified: i64,
}

fn count_pair(preds: &[i64], setup: &Setup<'_>) -> Cell {
    let mut cell = Cell::default();
    for ((&p, &t), &g) in preds
        .iter()
        .zip(setup.true_labels)
        .zip(setup.target_classes)
    {
        if p >= 0 {
            cell.classified += 1;
            cell.correct += i64::from(p == t);
            cell.error += i64::from(p != t);
            cell.hit += i64::from(p == g);
        }
    }
    cell
}

fn check(predictions: &[i64], setup: &Setup<'_>) -> Result<(usize, usize, usize)> {
    let n = setup.true_labels.len();
    let (a, d) = (setup.is_targeted.len(), setup.n_defenses);
    if setup.target_classes.len() != n {
        return Err(KernelError::Shape(format!(
            "{n} true labels but {} target classes",
            setup.target_classes.len()
        )));
    }
    if predictions.len() != a * d * n {
        return Err(KernelError::Shape(format!(
            "predictions hold {} values, expected attacks x defenses x images = {a}x{d}x{n}",
            predictions.len()
        )));
    }
    if let Some(pos) = predictions.iter().position(|&p| p < NO_IMAGE) {
        let (ai, di, ii) = (pos / (d * n), pos / n % d, pos % n);
        return Err(KernelError::Param(format!(
            "prediction [{ai}, {di}, {ii}] is {}; labels are >= 0, -1 marks a missing label and -2 a missing image",
            predictions[pos]
        )));
    }
    // An image the attack did not make is missing for every defense; anything else is a caller bug.
    for ai in 0..a {
        let block = &predictions[ai * d * n..(ai + 1) * d * n];
        for di in 1..d {
            for ii in 0..n {
                let (first, this) = (block[ii] == NO_IMAGE, block[di * n + ii] == NO_IMAGE);
                if first != this {
                    return Err(KernelError::Param(format!(
                        "attack {ai}, image {ii}: marked as not produced (-2) for some defenses only"
                    )));
                }
            }
        }
    }
    Ok((a, d, n))
}

fn rate(num: i64, den: i64) -> f64 {
    if den == 0 {
        f64::NAN
    } else {
        num as f64 / den as f64
    }
}

fn min_rate(values: impl Iterator<Item = i64>, n: usize) -> f64 {
    values.min().map_or(f64::NAN, |v| rate(v, n as i64))
}

/// Aggregates `predictions` (row-major `[attack][defense][image]`) into counts and scores.
pub fn score(predictions: &[i64], setup: &Setup<'_>, policy: Policy) -> Result<Scores> {
    let (na, nd, n) = check(predictions, setup)?;
    let cells: Vec<Cell> = if n == 0 {
        vec![Cell::default(); na * nd]
    } else {
        predictions
            .par_chunks(n)
            .map(|p| count_pair(p, setup))
            .collect()
    };
    let at = |a: usize, d: usize| cells[a * nd + d];
    let produced: Vec<i64> = (0..na)
        .map(|a| {
            let first = &predictions[a * nd * n..a * nd * n + if nd > 0 { n } else { 0 }];
            if nd == 0 {
                n as i64
            } else {
                first.iter().filter(|&&p| p != NO_IMAGE).count() as i64
            }
        })
        .collect();
    let n_i = n as i64;
    let success = |a: usize, d: usize| {
        let c = at(a, d);
        match (setup.is_targeted[a], policy) {
            (true, _) => c.hit,
            (false, Policy::Official) => c.error,
            (false, Policy::Devkit) => n_i - c.correct,
        }
    };
    let (attacks_used, defenses_used): (Vec<bool>, Vec<bool>) = match policy {
        Policy::Devkit => (vec![true; na], vec![true; nd]),
        Policy::Official => {
            let total: i64 = produced.iter().sum();
            (
                produced.iter().map(|&p| p == n_i).collect(),
                (0..nd)
                    .map(|d| (0..na).map(|a| at(a, d).classified).sum::<i64>() == total)
                    .collect(),
            )
        }
    };
    let used_a: Vec<usize> = (0..na).filter(|&a| attacks_used[a]).collect();
    let used_d: Vec<usize> = (0..nd).filter(|&d| defenses_used[d]).collect();
    let defense_raw: Vec<i64> = (0..nd)
        .map(|d| used_a.iter().map(|&a| at(a, d).correct).sum())
        .collect();
    let attack_raw: Vec<i64> = (0..na)
        .map(|a| used_d.iter().map(|&d| success(a, d)).sum())
        .collect();
    let flat = |f: fn(&Cell) -> i64| -> Vec<i64> { cells.iter().map(f).collect() };
    Ok(Scores {
        n_attacks: na,
        n_defenses: nd,
        correct: flat(|c| c.correct),
        error: flat(|c| c.error),
        hit: flat(|c| c.hit),
        classified: flat(|c| c.classified),
        missing: cells.iter().map(|c| n_i - c.classified).collect(),
        defense_score: defense_raw
            .iter()
            .map(|&r| rate(r, n_i * used_a.len() as i64))
            .collect(),
        defense_worst: (0..nd)
            .map(|d| min_rate(used_a.iter().map(|&a| at(a, d).correct), n))
            .collect(),
        attack_score: attack_raw
            .iter()
            .map(|&r| rate(r, n_i * used_d.len() as i64))
            .collect(),
        attack_worst: (0..na)
            .map(|a| min_rate(used_d.iter().map(|&d| success(a, d)), n))
            .collect(),
        produced,
        attacks_used,
        defenses_used,
        defense_raw,
        attack_raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two attacks (non-targeted, targeted) × two defenses × three images.
    fn example() -> (Vec<i64>, Vec<i64>, Vec<i64>, Vec<bool>) {
        let truth = vec![1, 2, 3];
        let target = vec![7, 8, 9];
        #[rustfmt::skip]
        let preds = vec![
            // attack 0 (non-targeted): defense 0, defense 1
            1, 5, MISSING,
            1, 2, 3,
            // attack 1 (targeted), image 2 not produced
            7, 2, NO_IMAGE,
            7, 8, NO_IMAGE,
        ];
        (preds, truth, target, vec![false, true])
    }

    #[test]
    fn counts_and_policies() {
        let (preds, truth, target, targeted) = example();
        let setup = Setup {
            true_labels: &truth,
            target_classes: &target,
            is_targeted: &targeted,
            n_defenses: 2,
        };
        let s = score(&preds, &setup, Policy::Official).unwrap();
        assert_eq!(s.correct, vec![1, 3, 1, 0]);
        assert_eq!(s.error, vec![1, 0, 1, 2]);
        assert_eq!(s.hit, vec![0, 0, 1, 2]);
        assert_eq!(s.classified, vec![2, 3, 2, 2]);
        assert_eq!(s.missing, vec![1, 0, 1, 1]);
        assert_eq!(s.produced, vec![3, 2]);
        assert_eq!(s.attacks_used, vec![true, false]);
        // Defense 0 left one label out (classified 4 of 5 images).
        assert_eq!(s.defenses_used, vec![false, true]);
        assert_eq!(s.defense_raw, vec![1, 3]);
        assert_eq!(s.attack_raw, vec![0, 2]);
        assert_eq!(s.defense_score, vec![1.0 / 3.0, 1.0]);
        assert_eq!(s.attack_worst, vec![0.0, 2.0 / 3.0]);

        let s = score(&preds, &setup, Policy::Devkit).unwrap();
        assert_eq!(s.defense_raw, vec![2, 3]);
        // Non-targeted: N·D − Σ correct = 6 − 4; targeted: Σ hit.
        assert_eq!(s.attack_raw, vec![2, 3]);
        assert_eq!(s.attack_score, vec![2.0 / 6.0, 3.0 / 6.0]);
        assert_eq!(s.defense_worst, vec![1.0 / 3.0, 0.0]);
        assert_eq!(s.attack_worst, vec![0.0, 1.0 / 3.0]);
    }

    #[test]
    fn rejects_inconsistent_inputs() {
        let (mut preds, truth, target, targeted) = example();
        let setup = Setup {
            true_labels: &truth,
            target_classes: &target,
            is_targeted: &targeted,
            n_defenses: 2,
        };
        assert!(score(&preds[1..], &setup, Policy::Devkit).is_err());
        preds[11] = 4;
        assert!(matches!(
            score(&preds, &setup, Policy::Devkit),
            Err(KernelError::Param(_))
        ));
        preds[11] = -3;
        assert!(score(&preds, &setup, Policy::Devkit).is_err());
        assert!(Policy::parse("strict").is_err());
    }

    #[test]
    fn no_opponents_gives_nan() {
        let setup = Setup {
            true_labels: &[1],
            target_classes: &[2],
            is_targeted: &[],
            n_defenses: 1,
        };
        let s = score(&[], &setup, Policy::Official).unwrap();
        assert!(s.defense_score[0].is_nan() && s.defense_worst[0].is_nan());
    }
}
