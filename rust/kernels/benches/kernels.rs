//! criterion benches of the pure kernels on the competition's batch shape (100 × 299 × 299 × 3).
//! Run with `cargo bench -p advengine-kernels`; the Python-side peers are in `benches/`.

use advengine_kernels::batch::Dims;
use advengine_kernels::{bit_depth, clip, codec, jpeg, median, resize, resize_pad, scoring};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const N: usize = 100;
const H: u32 = 299;
const W: u32 = 299;

fn batch(seed: u32) -> Vec<u8> {
    (0..N * (H * W * 3) as usize)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 11) as u8)
        .collect()
}

fn bench_clip(c: &mut Criterion) {
    let clean = batch(1);
    let adv = batch(2);
    let mut g = c.benchmark_group("clip_linf");
    g.throughput(Throughput::Bytes(clean.len() as u64));
    g.bench_function("copy", |b| {
        b.iter(|| clip::clip_linf(&adv, &clean, 16).unwrap())
    });
    let mut work = adv.clone();
    g.bench_function("inplace", |b| {
        b.iter(|| clip::clip_linf_inplace(&mut work, &clean, 16).unwrap())
    });
    g.finish();
}

fn bench_codec(c: &mut Criterion) {
    // Smooth images compress like photographs; pure noise would measure the worst case only.
    let data: Vec<u8> = (0..N * (H * W * 3) as usize)
        .map(|i| ((i / 3) % 299 / 2) as u8)
        .collect();
    let encoded = codec::encode_batch(&data, N, H, W, false).unwrap();
    let refs: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
    let mut g = c.benchmark_group("png");
    g.sample_size(10);
    g.bench_function("decode_batch", |b| {
        b.iter(|| codec::decode_batch(&refs, codec::ColorMode::Strict, Some((H, W))).unwrap())
    });
    g.bench_function("encode_batch", |b| {
        b.iter(|| codec::encode_batch(&data, N, H, W, false).unwrap())
    });
    g.finish();
}

/// Smooth, photo-like content with some noise, so filters and JPEG see realistic statistics.
fn photo_like() -> Vec<u8> {
    let (h, w) = (H as usize, W as usize);
    (0..N * h * w * 3)
        .map(|i| {
            let (y, x, c) = (i / (w * 3) % h, i / 3 % w, i % 3);
            let noise = (i as u32).wrapping_mul(2_654_435_761) >> 29;
            ((x + 2 * y + 40 * c) / 4) as u8 ^ noise as u8
        })
        .collect()
}

fn dims() -> Dims {
    Dims::new(N, H as usize, W as usize, 3)
}

fn bench_filters(c: &mut Criterion) {
    let data = photo_like();
    let mut g = c.benchmark_group("filters");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(data.len() as u64));
    for k in [2, 3, 5] {
        g.bench_function(format!("median_{k}x{k}"), |b| {
            b.iter(|| median::median_filter(&data, dims(), k).unwrap())
        });
    }
    for (name, m) in [
        ("bilinear", resize::Method::Bilinear),
        ("bicubic", resize::Method::Bicubic),
        ("lanczos", resize::Method::Lanczos),
        ("nearest", resize::Method::Nearest),
    ] {
        g.bench_function(format!("resize_224_{name}"), |b| {
            b.iter(|| resize::resize(&data, dims(), 224, 224, m).unwrap())
        });
    }
    let seeds: Vec<u64> = (0..N as u64).collect();
    g.bench_function("random_resize_pad_331", |b| {
        b.iter(|| resize_pad::random_resize_pad(&data, dims(), 331, 310, 330, &seeds, 0).unwrap())
    });
    g.bench_function("bit_depth_5", |b| {
        b.iter(|| bit_depth::bit_depth(&data, 5).unwrap())
    });
    g.bench_function("jpeg_roundtrip_q75", |b| {
        b.iter(|| jpeg::jpeg_roundtrip(&data, dims(), 75).unwrap())
    });
    g.finish();
}

fn bench_scoring(c: &mut Criterion) {
    // 20 attacks x 10 defenses x 1000 images, with a few missing labels.
    let (a, d, n) = (20usize, 10usize, 1000usize);
    let truth: Vec<i64> = (0..n as i64).map(|i| i % 1000 + 1).collect();
    let target: Vec<i64> = (0..n as i64).map(|i| (i * 7) % 1000 + 1).collect();
    let targeted: Vec<bool> = (0..a).map(|i| i % 2 == 1).collect();
    let preds: Vec<i64> = (0..a * d * n)
        .map(|i| match i % 97 {
            0 => scoring::MISSING,
            r if r < 40 => truth[i % n],
            _ => (i as i64 * 31) % 1000 + 1,
        })
        .collect();
    let setup = scoring::Setup {
        true_labels: &truth,
        target_classes: &target,
        is_targeted: &targeted,
        n_defenses: d,
    };
    c.bench_function("scoring_20x10x1000", |b| {
        b.iter(|| scoring::score(&preds, &setup, scoring::Policy::Official).unwrap())
    });
}

criterion_group!(
    benches,
    bench_clip,
    bench_codec,
    bench_filters,
    bench_scoring
);
criterion_main!(benches);
