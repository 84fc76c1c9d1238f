//! Writes the ggml file whisper.cpp loads from CTranslate2 Whisper weights, and reads the header of
//! an existing one. The layout is described in shared/model-format.md.

use std::io::{Read, Write};

use half::f16;
use serde::{Deserialize, Serialize};

use super::ct2::{Ct2Model, DType, Variable};
use super::{mel, ModelError};

pub const GGML_MAGIC: u32 = 0x6767_6d6c;

/// whisper.cpp's hyper-parameters, in the order of the file header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hparams {
    pub n_vocab: i32,
    pub n_audio_ctx: i32,
    pub n_audio_state: i32,
    pub n_audio_head: i32,
    pub n_audio_layer: i32,
    pub n_text_ctx: i32,
    pub n_text_state: i32,
    pub n_text_head: i32,
    pub n_text_layer: i32,
    pub n_mels: i32,
    pub ftype: i32,
}

impl Hparams {
    pub fn is_multilingual(&self) -> bool {
        self.n_vocab >= 51_865
    }

    /// The usual name of the architecture (tiny, base, small, medium, large) by its width.
    pub fn size_name(&self) -> &'static str {
        match self.n_audio_state {
            384 => "tiny",
            512 => "base",
            768 => "small",
            1024 => "medium",
            1280 => "large",
            _ => "custom",
        }
    }

    fn fields(&self) -> [i32; 11] {
        [
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
            self.ftype,
        ]
    }

    /// Checks that the values describe a Whisper model whisper.cpp can load.
    pub fn check(&self) -> Result<(), ModelError> {
        let bad = |what: &str, value: i32, expected: &str| {
            Err(ModelError::Corrupt(format!(
                "{what} is {value} (expected {expected})"
            )))
        };
        if !(51_864..=51_866).contains(&self.n_vocab) {
            return bad("n_vocab", self.n_vocab, "51864 to 51866");
        }
        if self.n_mels != 80 && self.n_mels != 128 {
            return bad("n_mels", self.n_mels, "80 or 128");
        }
        if self.n_audio_ctx != 1500 {
            return bad("n_audio_ctx", self.n_audio_ctx, "1500");
        }
        if !(1..=64).contains(&self.n_audio_layer) || !(1..=64).contains(&self.n_text_layer) {
            return bad("the layer count", self.n_audio_layer, "1 to 64");
        }
        for (what, state, heads) in [
            ("n_audio_state", self.n_audio_state, self.n_audio_head),
            ("n_text_state", self.n_text_state, self.n_text_head),
        ] {
            if heads <= 0 || state <= 0 || state % heads != 0 {
                return bad(what, state, "a positive multiple of the head count");
            }
        }
        if !matches!(self.ftype, 0 | 1 | 2 | 3 | 7 | 8 | 9) {
            return bad(
                "ftype",
                self.ftype,
                "0 (f32), 1 (f16) or a ggml quantized type",
            );
        }
        Ok(())
    }
}

/// Reads and checks the header of a ggml Whisper file.
pub fn read_header(mut input: impl Read) -> Result<Hparams, ModelError> {
    let mut words = [0i32; 12];
    for (i, w) in words.iter_mut().enumerate() {
        let mut b = [0u8; 4];
        input.read_exact(&mut b).map_err(|_| {
            ModelError::Truncated(format!("the ggml header ends after {} of 48 bytes", i * 4))
        })?;
        *w = i32::from_le_bytes(b);
    }
    if words[0] as u32 != GGML_MAGIC {
        return Err(ModelError::UnknownFormat(format!(
            "not a ggml Whisper file (magic {:#010x}, expected {GGML_MAGIC:#010x})",
            words[0] as u32
        )));
    }
    let w = &words[1..];
    let hp = Hparams {
        n_vocab: w[0],
        n_audio_ctx: w[1],
        n_audio_state: w[2],
        n_audio_head: w[3],
        n_audio_layer: w[4],
        n_text_ctx: w[5],
        n_text_state: w[6],
        n_text_head: w[7],
        n_text_layer: w[8],
        n_mels: w[9],
        ftype: w[10],
    };
    hp.check()?;
    Ok(hp)
}

/// The hyper-parameters of CTranslate2 Whisper weights.
pub fn hparams(model: &Ct2Model) -> Result<Hparams, ModelError> {
    let dims = |name: &str, rank: usize| -> Result<Vec<i32>, ModelError> {
        let var = model.get(name)?;
        if var.dims.len() != rank {
            return Err(ModelError::Corrupt(format!(
                "{name} has shape {:?}, expected rank {rank}",
                var.dims
            )));
        }
        Ok(var.dims.iter().map(|&d| d as i32).collect())
    };
    let layers = |prefix: &str| {
        model
            .names()
            .filter_map(|n| {
                n.strip_prefix(prefix)?
                    .split('/')
                    .next()?
                    .parse::<i32>()
                    .ok()
            })
            .max()
            .map_or(0, |n| n + 1)
    };
    let embeddings = dims("decoder/embeddings/weight", 2)?;
    let audio_pos = dims("encoder/position_encodings/encodings", 2)?;
    let text_pos = dims("decoder/position_encodings/encodings", 2)?;
    let conv1 = dims("encoder/conv1/weight", 3)?;
    let hp = Hparams {
        n_vocab: embeddings[0],
        n_audio_ctx: audio_pos[0],
        n_audio_state: audio_pos[1],
        n_audio_head: model.scalar("encoder/num_heads")? as i32,
        n_audio_layer: layers("encoder/layer_"),
        n_text_ctx: text_pos[0],
        n_text_state: embeddings[1],
        n_text_head: model.scalar("decoder/num_heads")? as i32,
        n_text_layer: layers("decoder/layer_"),
        n_mels: conv1[1],
        ftype: 1,
    };
    hp.check()?;
    Ok(hp)
}

/// GPT-2's byte-level alphabet: the printable character that stands for each byte.
fn byte_decoder() -> std::collections::HashMap<char, u8> {
    let mut printable: Vec<u32> = (33..=126).chain(161..=172).chain(174..=255).collect();
    let mut map: std::collections::HashMap<char, u8> = printable
        .iter()
        .map(|&b| (char::from_u32(b).expect("Latin-1 code point"), b as u8))
        .collect();
    let mut extra = 0;
    for b in 0..=255u32 {
        if !printable.contains(&b) {
            printable.push(b);
            map.insert(
                char::from_u32(256 + extra).expect("code point below 0x200"),
                b as u8,
            );
            extra += 1;
        }
    }
    map
}

/// The ordinary tokens of `vocabulary.txt` (up to the first special `<|...|>` token) as bytes.
pub fn read_vocabulary(text: &str) -> Result<Vec<Vec<u8>>, ModelError> {
    let decoder = byte_decoder();
    let mut tokens = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("<|") {
            return Ok(tokens);
        }
        let bytes = line
            .chars()
            .map(|c| {
                decoder.get(&c).copied().ok_or_else(|| {
                    ModelError::Corrupt(format!(
                        "vocabulary.txt line {}: {c:?} is not a byte-level token character",
                        i + 1
                    ))
                })
            })
            .collect::<Result<Vec<u8>, _>>()?;
        tokens.push(bytes);
    }
    Err(ModelError::Corrupt(
        "vocabulary.txt has no special tokens (<|endoftext|>): not a Whisper vocabulary".into(),
    ))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Out {
    F32,
    F16,
    Q8_0,
}

impl Out {
    /// ggml's type id for the tensor header.
    fn ggml_type(self) -> i32 {
        match self {
            Out::F32 => 0,
            Out::F16 => 1,
            Out::Q8_0 => 8,
        }
    }
}

/// How the large weight matrices are stored in the ggml file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// Half precision, as the CTranslate2 weights are published.
    F16,
    /// ggml's 8-bit blocks (32 weights and one f16 scale): smaller and faster on CPUs.
    Q8_0,
}

impl Precision {
    fn ftype(self) -> i32 {
        match self {
            Precision::F16 => 1,
            Precision::Q8_0 => 7,
        }
    }
}

struct Tensor<'a> {
    name: String,
    var: &'a Variable,
    /// Rows (first dimension) taken from the variable, for the fused attention projections.
    rows: std::ops::Range<usize>,
    /// The PyTorch shape written (row-major, outermost first).
    shape: Vec<usize>,
    out: Out,
}

fn tensor<'a>(model: &'a Ct2Model, ct2: &str, ggml: &str) -> Result<Tensor<'a>, ModelError> {
    let var = model.get(ct2)?;
    // whisper.cpp keeps 1-D tensors and positional embeddings in f32 and the convolutions in f16;
    // the other matrices take the file's weight type (chosen in `write`).
    let out = if var.dims.len() == 1 || ggml.contains("positional_embedding") {
        Out::F32
    } else {
        Out::F16
    };
    Ok(Tensor {
        name: ggml.to_owned(),
        var,
        rows: 0..var.dims[0],
        shape: var.dims.clone(),
        out,
    })
}

/// The `part`-th of `parts` equal row blocks of a fused projection.
fn split<'a>(
    model: &'a Ct2Model,
    ct2: &str,
    ggml: &str,
    part: usize,
    parts: usize,
) -> Result<Tensor<'a>, ModelError> {
    let mut t = tensor(model, ct2, ggml)?;
    let block = t.var.dims[0] / parts;
    if block * parts != t.var.dims[0] {
        return Err(ModelError::Corrupt(format!(
            "{ct2} has {} rows, not divisible into {parts} projections",
            t.var.dims[0]
        )));
    }
    t.rows = part * block..(part + 1) * block;
    t.shape[0] = block;
    Ok(t)
}

fn attention<'a>(
    model: &'a Ct2Model,
    src: &str,
    dst: &str,
    out: &mut Vec<Tensor<'a>>,
) -> Result<(), ModelError> {
    out.push(split(
        model,
        &format!("{src}/linear_0/weight"),
        &format!("{dst}.query.weight"),
        0,
        3,
    )?);
    out.push(split(
        model,
        &format!("{src}/linear_0/bias"),
        &format!("{dst}.query.bias"),
        0,
        3,
    )?);
    out.push(split(
        model,
        &format!("{src}/linear_0/weight"),
        &format!("{dst}.key.weight"),
        1,
        3,
    )?);
    out.push(split(
        model,
        &format!("{src}/linear_0/weight"),
        &format!("{dst}.value.weight"),
        2,
        3,
    )?);
    out.push(split(
        model,
        &format!("{src}/linear_0/bias"),
        &format!("{dst}.value.bias"),
        2,
        3,
    )?);
    out.push(tensor(
        model,
        &format!("{src}/linear_1/weight"),
        &format!("{dst}.out.weight"),
    )?);
    out.push(tensor(
        model,
        &format!("{src}/linear_1/bias"),
        &format!("{dst}.out.bias"),
    )?);
    Ok(())
}

fn norm_and_ffn<'a>(
    model: &'a Ct2Model,
    src: &str,
    dst: &str,
    out: &mut Vec<Tensor<'a>>,
) -> Result<(), ModelError> {
    for (from, to) in [("ffn/linear_0", "mlp.0"), ("ffn/linear_1", "mlp.2")] {
        out.push(tensor(
            model,
            &format!("{src}/{from}/weight"),
            &format!("{dst}.{to}.weight"),
        )?);
        out.push(tensor(
            model,
            &format!("{src}/{from}/bias"),
            &format!("{dst}.{to}.bias"),
        )?);
    }
    out.push(tensor(
        model,
        &format!("{src}/ffn/layer_norm/gamma"),
        &format!("{dst}.mlp_ln.weight"),
    )?);
    out.push(tensor(
        model,
        &format!("{src}/ffn/layer_norm/beta"),
        &format!("{dst}.mlp_ln.bias"),
    )?);
    Ok(())
}

fn layer_norm<'a>(
    model: &'a Ct2Model,
    src: &str,
    dst: &str,
    out: &mut Vec<Tensor<'a>>,
) -> Result<(), ModelError> {
    out.push(tensor(
        model,
        &format!("{src}/gamma"),
        &format!("{dst}.weight"),
    )?);
    out.push(tensor(
        model,
        &format!("{src}/beta"),
        &format!("{dst}.bias"),
    )?);
    Ok(())
}

/// A block's self-attention and its layer norm.
fn self_attention<'a>(
    model: &'a Ct2Model,
    src: &str,
    dst: &str,
    out: &mut Vec<Tensor<'a>>,
) -> Result<(), ModelError> {
    attention(
        model,
        &format!("{src}/self_attention"),
        &format!("{dst}.attn"),
        out,
    )?;
    layer_norm(
        model,
        &format!("{src}/self_attention/layer_norm"),
        &format!("{dst}.attn_ln"),
        out,
    )
}

fn tensors<'a>(model: &'a Ct2Model, hp: &Hparams) -> Result<Vec<Tensor<'a>>, ModelError> {
    let mut t = Vec::new();
    for conv in ["conv1", "conv2"] {
        t.push(tensor(
            model,
            &format!("encoder/{conv}/weight"),
            &format!("encoder.{conv}.weight"),
        )?);
        let mut bias = tensor(
            model,
            &format!("encoder/{conv}/bias"),
            &format!("encoder.{conv}.bias"),
        )?;
        bias.shape = vec![bias.var.dims[0], 1];
        t.push(bias);
    }
    t.push(tensor(
        model,
        "encoder/position_encodings/encodings",
        "encoder.positional_embedding",
    )?);
    for n in 0..hp.n_audio_layer {
        let (src, dst) = (format!("encoder/layer_{n}"), format!("encoder.blocks.{n}"));
        self_attention(model, &src, &dst, &mut t)?;
        norm_and_ffn(model, &src, &dst, &mut t)?;
    }
    layer_norm(model, "encoder/layer_norm", "encoder.ln_post", &mut t)?;
    t.push(tensor(
        model,
        "decoder/embeddings/weight",
        "decoder.token_embedding.weight",
    )?);
    t.push(tensor(
        model,
        "decoder/position_encodings/encodings",
        "decoder.positional_embedding",
    )?);
    for n in 0..hp.n_text_layer {
        let (src, dst) = (format!("decoder/layer_{n}"), format!("decoder.blocks.{n}"));
        self_attention(model, &src, &dst, &mut t)?;
        let (a, x) = (format!("{src}/attention"), format!("{dst}.cross_attn"));
        t.push(tensor(
            model,
            &format!("{a}/linear_0/weight"),
            &format!("{x}.query.weight"),
        )?);
        t.push(tensor(
            model,
            &format!("{a}/linear_0/bias"),
            &format!("{x}.query.bias"),
        )?);
        t.push(split(
            model,
            &format!("{a}/linear_1/weight"),
            &format!("{x}.key.weight"),
            0,
            2,
        )?);
        t.push(split(
            model,
            &format!("{a}/linear_1/weight"),
            &format!("{x}.value.weight"),
            1,
            2,
        )?);
        t.push(split(
            model,
            &format!("{a}/linear_1/bias"),
            &format!("{x}.value.bias"),
            1,
            2,
        )?);
        t.push(tensor(
            model,
            &format!("{a}/linear_2/weight"),
            &format!("{x}.out.weight"),
        )?);
        t.push(tensor(
            model,
            &format!("{a}/linear_2/bias"),
            &format!("{x}.out.bias"),
        )?);
        layer_norm(
            model,
            &format!("{a}/layer_norm"),
            &format!("{x}_ln"),
            &mut t,
        )?;
        norm_and_ffn(model, &src, &dst, &mut t)?;
    }
    layer_norm(model, "decoder/layer_norm", "decoder.ln", &mut t)?;
    Ok(t)
}

fn element_f32(dtype: DType, b: &[u8]) -> f32 {
    match dtype {
        DType::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        DType::F16 => f16::from_le_bytes([b[0], b[1]]).to_f32(),
        DType::BF16 => f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16),
        DType::I8 | DType::I16 | DType::I32 => unreachable!("checked before conversion"),
    }
}

fn write_tensor(model: &Ct2Model, t: &Tensor, out: &mut impl Write) -> Result<(), ModelError> {
    let var = t.var;
    if !matches!(var.dtype, DType::F32 | DType::F16 | DType::BF16) {
        return Err(ModelError::Unsupported(format!(
            "{} is stored as {:?}: quantized CTranslate2 models cannot be converted (use a float16 or float32 model)",
            t.name, var.dtype
        )));
    }
    let row_elems: usize = var.dims[1..].iter().product();
    let size = var.dtype.size_bytes();
    let bytes = &model.bytes(var)[t.rows.start * row_elems * size..t.rows.end * row_elems * size];
    let name = t.name.as_bytes();
    let mut header = vec![t.shape.len() as i32, name.len() as i32, t.out.ggml_type()];
    header.extend(t.shape.iter().rev().map(|&d| d as i32));
    for v in header {
        out.write_all(&v.to_le_bytes())?;
    }
    out.write_all(name)?;
    match (var.dtype, t.out) {
        (DType::F16, Out::F16) | (DType::F32, Out::F32) => out.write_all(bytes)?,
        (dtype, Out::Q8_0) => {
            let values: Vec<f32> = bytes
                .chunks_exact(size)
                .map(|e| element_f32(dtype, e))
                .collect();
            out.write_all(&quantize_q8_0(&values))?;
        }
        (dtype, Out::F16) => {
            for e in bytes.chunks_exact(size) {
                out.write_all(&f16::from_f32(element_f32(dtype, e)).to_le_bytes())?;
            }
        }
        (dtype, Out::F32) => {
            for e in bytes.chunks_exact(size) {
                out.write_all(&element_f32(dtype, e).to_le_bytes())?;
            }
        }
    }
    Ok(())
}

/// ggml's Q8_0 blocks: per 32 values, an f16 scale (max |x| / 127) and 32 rounded int8.
pub fn quantize_q8_0(values: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() / 32 * 34);
    for block in values.chunks(32) {
        let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
        for i in 0..32 {
            let q = block.get(i).map_or(0.0, |v| (v * id).round());
            out.push(q as i8 as u8);
        }
    }
    out
}

/// Writes the whole ggml file; returns the hyper-parameters written.
pub fn write(
    model: &Ct2Model,
    vocabulary: &[Vec<u8>],
    precision: Precision,
    out: &mut impl Write,
) -> Result<Hparams, ModelError> {
    let mut hp = hparams(model)?;
    hp.ftype = precision.ftype();
    let expected_vocab = if hp.is_multilingual() { 50_257 } else { 50_256 };
    if vocabulary.len() != expected_vocab {
        return Err(ModelError::Corrupt(format!(
            "vocabulary.txt has {} ordinary tokens, expected {expected_vocab} for n_vocab {}",
            vocabulary.len(),
            hp.n_vocab
        )));
    }
    let mut tensors = tensors(model, &hp)?;
    if precision == Precision::Q8_0 {
        for t in &mut tensors {
            if t.out == Out::F16 && !t.name.starts_with("encoder.conv") {
                t.out = Out::Q8_0;
            }
        }
    }
    out.write_all(&GGML_MAGIC.to_le_bytes())?;
    for v in hp.fields() {
        out.write_all(&v.to_le_bytes())?;
    }
    let (n_fft, sample_rate) = (400, 16_000);
    let bins = n_fft / 2 + 1;
    out.write_all(&hp.n_mels.to_le_bytes())?;
    out.write_all(&(bins as i32).to_le_bytes())?;
    for w in mel::filterbank(sample_rate, n_fft, hp.n_mels as usize) {
        out.write_all(&w.to_le_bytes())?;
    }
    out.write_all(&(vocabulary.len() as i32).to_le_bytes())?;
    for token in vocabulary {
        out.write_all(&(token.len() as i32).to_le_bytes())?;
        out.write_all(token)?;
    }
    for t in &tensors {
        write_tensor(model, t, out)?;
    }
    Ok(hp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_alphabet_covers_every_byte_once() {
        let d = byte_decoder();
        assert_eq!(d.len(), 256);
        assert_eq!(d[&'Ġ'], b' ');
        assert_eq!(d[&'!'], b'!');
        let mut bytes: Vec<u8> = d.values().copied().collect();
        bytes.sort_unstable();
        bytes.dedup();
        assert_eq!(bytes.len(), 256);
    }

    #[test]
    fn vocabulary_stops_at_the_first_special_token() {
        let v = read_vocabulary("!\nĠthe\nÃ¨\n<|endoftext|>\n<|en|>\n").unwrap();
        assert_eq!(
            v,
            vec![b"!".to_vec(), b" the".to_vec(), "è".as_bytes().to_vec()]
        );
        assert!(read_vocabulary("a\nb\n").is_err());
    }

    #[test]
    fn q8_0_blocks_round_trip_within_half_a_step() {
        let values: Vec<f32> = (0..64).map(|i| (i as f32 - 20.0) / 7.0).collect();
        let q = quantize_q8_0(&values);
        assert_eq!(q.len(), 2 * 34);
        for (b, block) in values.chunks(32).enumerate() {
            let raw = &q[b * 34..(b + 1) * 34];
            let d = f16::from_le_bytes([raw[0], raw[1]]).to_f32();
            for (i, v) in block.iter().enumerate() {
                let back = d * f32::from(raw[2 + i] as i8);
                assert!((back - v).abs() <= d * 0.51 + 1e-3, "{v} -> {back}");
            }
        }
    }

    #[test]
    fn header_of_a_wrong_file_is_refused() {
        let err = read_header(&b"RIFF\0\0\0\0WAVEfmt "[..]).unwrap_err();
        assert!(err.to_string().contains("ends after"), "{err}");
        let err = read_header(&[0u8; 48][..]).unwrap_err();
        assert!(err.to_string().contains("not a ggml Whisper file"), "{err}");
    }
}
