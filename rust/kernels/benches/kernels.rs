//! criterion benches of the pure kernels on the competition's batch shape (100 × 299 × 299 × 3).
//! Run with `cargo bench -p advengine-kernels`; the Python-side peers are in `benches/`.

use advengine_kernels::{clip, codec};
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

criterion_group!(benches, bench_clip, bench_codec);
criterion_main!(benches);
