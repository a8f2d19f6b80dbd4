//! Random changes to the training images each time a batch is drawn, so that a model sees a
//! slightly different picture of every example in every epoch.

use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::model::{Batch, Inputs};

/// How training images are varied (none by default). Only the training split's batches are
/// changed; validation, test and prediction see the images as they are.
///
/// **PyTorch equivalent**: `torchvision.transforms.Compose([RandomHorizontalFlip(),
/// RandomCrop(size, padding=max_shift)])` on the training set's transform: each image is
/// mirrored left to right with probability ½, then moved by up to `max_shift` pixels in each
/// direction, the uncovered border filled with 0 (black).
///
/// ```
/// use attn_runtime::data::ImageAugment;
///
/// assert!(ImageAugment::default().is_none());
/// let fashion = ImageAugment { horizontal_flip: true, max_shift: 2 };
/// assert!(!fashion.is_none());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageAugment {
    /// Mirror each image left to right with probability ½.
    pub horizontal_flip: bool,
    /// Move each image by a uniform random whole number of pixels in `-max_shift..=max_shift`,
    /// across and down independently (0: no shift).
    pub max_shift: usize,
}

impl ImageAugment {
    /// Whether it changes nothing.
    pub fn is_none(&self) -> bool {
        !self.horizontal_flip && self.max_shift == 0
    }

    /// Varies every image of `batch` (`[B, C, H, W]` pixels, row-major) with draws from
    /// `seed`; a batch of token inputs is left as it is.
    pub fn apply(
        &self,
        batch: &mut Batch,
        channels: usize,
        height: usize,
        width: usize,
        seed: u64,
    ) {
        let Inputs::Images { pixels } = &mut batch.inputs else {
            return;
        };
        if self.is_none() || pixels.is_empty() {
            return;
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let shift = self.max_shift as isize;
        let mut scratch = vec![0.0; channels * height * width];
        for image in pixels.chunks_exact_mut(channels * height * width) {
            let flip = self.horizontal_flip && rng.gen_bool(0.5);
            let (dx, dy) = if shift > 0 {
                (rng.gen_range(-shift..=shift), rng.gen_range(-shift..=shift))
            } else {
                (0, 0)
            };
            transform(image, &mut scratch, [channels, height, width], flip, dx, dy);
        }
    }
}

/// `image` (`[C, H, W]`) mirrored left to right when `flip`, then moved `dx` pixels right and
/// `dy` down (negative: left, up), the uncovered pixels 0. `scratch` holds `C·H·W` values.
pub(crate) fn transform(
    image: &mut [f32],
    scratch: &mut [f32],
    [channels, height, width]: [usize; 3],
    flip: bool,
    dx: isize,
    dy: isize,
) {
    if !flip && dx == 0 && dy == 0 {
        return;
    }
    scratch.copy_from_slice(image);
    let (h, w) = (height as isize, width as isize);
    for c in 0..channels {
        let plane = c * height * width;
        for y in 0..h {
            for x in 0..w {
                // the output pixel (x, y) comes from (x - dx, y - dy) of the flipped image
                let (sx, sy) = (x - dx, y - dy);
                let value = if (0..w).contains(&sx) && (0..h).contains(&sy) {
                    let sx = if flip { w - 1 - sx } else { sx };
                    scratch[plane + (sy * w + sx) as usize]
                } else {
                    0.0
                };
                image[plane + (y * w + x) as usize] = value;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Vec<f32> {
        // 3×4, value = 10·row + column + 1
        (0..3)
            .flat_map(|r| (0..4).map(move |c| (10 * r + c + 1) as f32))
            .collect()
    }

    fn moved(flip: bool, dx: isize, dy: isize) -> Vec<f32> {
        let mut image = grid();
        let mut scratch = vec![0.0; 12];
        transform(&mut image, &mut scratch, [1, 3, 4], flip, dx, dy);
        image
    }

    #[test]
    fn a_flip_mirrors_each_row() {
        #[rustfmt::skip]
        let expected = [
            4.0, 3.0, 2.0, 1.0,
            14.0, 13.0, 12.0, 11.0,
            24.0, 23.0, 22.0, 21.0,
        ];
        assert_eq!(moved(true, 0, 0), expected);
    }

    #[test]
    fn a_shift_moves_the_picture_and_fills_the_border_with_black() {
        // one right, one up (readable examples; the golden cases are in the fixture test)
        #[rustfmt::skip]
        let expected = [
            0.0, 11.0, 12.0, 13.0,
            0.0, 21.0, 22.0, 23.0,
            0.0, 0.0, 0.0, 0.0,
        ];
        assert_eq!(moved(false, 1, -1), expected);
        // flipped, then two left
        #[rustfmt::skip]
        let expected = [
            2.0, 1.0, 0.0, 0.0,
            12.0, 11.0, 0.0, 0.0,
            22.0, 21.0, 0.0, 0.0,
        ];
        assert_eq!(moved(true, -2, 0), expected);
        assert_eq!(moved(false, 0, 0), grid());
    }

    #[test]
    fn moves_match_numpy_pad_and_crop() {
        // tools/gen_augment_fixtures.py: torchvision's flip + padded crop with fixed draws
        let fixture: serde_json::Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/data/augment.json"
        )))
        .unwrap();
        let cases = fixture["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 36);
        let numbers = |v: &serde_json::Value| -> Vec<f32> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        };
        for case in cases {
            let shape: Vec<usize> = case["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect();
            let (flip, dx, dy) = (
                case["flip"].as_bool().unwrap(),
                case["dx"].as_i64().unwrap() as isize,
                case["dy"].as_i64().unwrap() as isize,
            );
            let mut image = numbers(&case["image"]);
            let mut scratch = vec![0.0; image.len()];
            transform(
                &mut image,
                &mut scratch,
                [shape[0], shape[1], shape[2]],
                flip,
                dx,
                dy,
            );
            assert_eq!(
                image,
                numbers(&case["expected"]),
                "{shape:?} {flip} {dx} {dy}"
            );
        }
    }

    #[test]
    fn a_batch_is_varied_per_image_and_the_same_for_the_same_seed() {
        let image: Vec<f32> = (0..16).map(|v| v as f32 + 1.0).collect();
        let batch = || Batch {
            size: 8,
            inputs: Inputs::Images {
                pixels: image.repeat(8),
            },
            targets: vec![0; 8],
        };
        let aug = ImageAugment {
            horizontal_flip: true,
            max_shift: 1,
        };
        let (mut a, mut b, mut c) = (batch(), batch(), batch());
        aug.apply(&mut a, 1, 4, 4, 7);
        aug.apply(&mut b, 1, 4, 4, 7);
        aug.apply(&mut c, 1, 4, 4, 8);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let Inputs::Images { pixels } = &a.inputs else {
            unreachable!()
        };
        // eight draws of flip × 9 shifts: the images are not all alike, and none gains pixels
        let images: Vec<&[f32]> = pixels.chunks(16).collect();
        assert!(images.iter().any(|i| *i != images[0]));
        for i in &images {
            assert!(i.iter().sum::<f32>() <= image.iter().sum::<f32>());
        }
        // no augmentation: the batch is untouched
        let mut d = batch();
        ImageAugment::default().apply(&mut d, 1, 4, 4, 7);
        assert_eq!(d, batch());
    }
}
