//! The RIFF/WAVE header checked against the file it heads. GStreamer's `wavparse` quietly caps a
//! data size beyond the end of the file, so a cut-off WAV (or one whose writer never came back to
//! fill in the size, leaving 0xFFFFFFFF) would otherwise decode as if nothing were wrong. Pure
//! logic over any `Read + Seek`; files that are not RIFF/WAVE are not its business.

use std::io::{Read, Seek, SeekFrom};

/// What the header of a WAV file says, checked against the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WavHeader {
    /// The file is not RIFF/WAVE: nothing to check here.
    NotWav,
    /// The data chunk fits in the file.
    Sound {
        /// The duration the data size declares.
        declared_ms: u64,
    },
    /// The data chunk runs past the end of the file: the file was cut.
    Cut {
        /// The duration the data size declares.
        declared_ms: u64,
        /// The duration of the samples the file holds.
        present_ms: u64,
    },
    /// The data size is 0xFFFFFFFF: a writer that never came back to fill it in.
    UnknownSize {
        /// The duration of the samples the file holds.
        present_ms: u64,
    },
}

/// A header that cannot describe any audio.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WavProblem {
    #[error("the RIFF header ends after {0} bytes (expected at least 12)")]
    ShortRiff(u64),
    #[error("chunk {id:?} at byte {offset} runs past the end of the file ({size} bytes declared, {left} left)")]
    ChunkPastEnd {
        id: String,
        offset: u64,
        size: u32,
        left: u64,
    },
    #[error("no \"fmt \" chunk before the \"data\" chunk")]
    NoFormat,
    #[error("the \"fmt \" chunk has {0} bytes (expected at least 16)")]
    ShortFormat(u32),
    #[error("the \"fmt \" chunk says {channels} channel(s) at {rate_hz} Hz with {block_align}-byte frames (expected none of them 0)")]
    ZeroFormat {
        channels: u16,
        rate_hz: u32,
        block_align: u16,
    },
    #[error("no \"data\" chunk")]
    NoData,
    #[error("reading the header: {0}")]
    Io(String),
}

const UNKNOWN_SIZE: u32 = 0xFFFF_FFFF;

/// Reads the chunks of a RIFF/WAVE file up to its data chunk and checks them against `file_len`.
pub fn check(mut file: impl Read + Seek, file_len: u64) -> Result<WavHeader, WavProblem> {
    let io = |e: std::io::Error| WavProblem::Io(e.to_string());
    let mut riff = [0u8; 12];
    let got = read_up_to(&mut file, &mut riff).map_err(io)?;
    if got < 4 || &riff[..4] != b"RIFF" {
        return Ok(WavHeader::NotWav);
    }
    if got < 12 {
        return Err(WavProblem::ShortRiff(got as u64));
    }
    if &riff[8..12] != b"WAVE" {
        return Ok(WavHeader::NotWav);
    }
    let mut offset = 12u64;
    let mut bytes_per_ms: Option<f64> = None;
    loop {
        let mut head = [0u8; 8];
        if read_up_to(&mut file, &mut head).map_err(io)? < 8 {
            return Err(WavProblem::NoData);
        }
        let id = &head[..4];
        let size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let body = offset + 8;
        let left = file_len.saturating_sub(body);
        if id == b"data" {
            let per_ms = bytes_per_ms.ok_or(WavProblem::NoFormat)?;
            let ms = |bytes: u64| (bytes as f64 / per_ms) as u64;
            return Ok(if size == UNKNOWN_SIZE {
                WavHeader::UnknownSize {
                    present_ms: ms(left),
                }
            } else if u64::from(size) > left {
                WavHeader::Cut {
                    declared_ms: ms(u64::from(size)),
                    present_ms: ms(left),
                }
            } else {
                WavHeader::Sound {
                    declared_ms: ms(u64::from(size)),
                }
            });
        }
        if u64::from(size) > left {
            return Err(WavProblem::ChunkPastEnd {
                id: String::from_utf8_lossy(id).into_owned(),
                offset,
                size,
                left,
            });
        }
        if id == b"fmt " {
            if size < 16 {
                return Err(WavProblem::ShortFormat(size));
            }
            let mut fmt = [0u8; 16];
            file.read_exact(&mut fmt).map_err(io)?;
            let channels = u16::from_le_bytes([fmt[2], fmt[3]]);
            let rate_hz = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
            let block_align = u16::from_le_bytes([fmt[12], fmt[13]]);
            if channels == 0 || rate_hz == 0 || block_align == 0 {
                return Err(WavProblem::ZeroFormat {
                    channels,
                    rate_hz,
                    block_align,
                });
            }
            bytes_per_ms = Some(f64::from(rate_hz) * f64::from(block_align) / 1000.0);
        }
        // Chunks are padded to an even length.
        offset = body + u64::from(size) + u64::from(size % 2);
        file.seek(SeekFrom::Start(offset)).map_err(io)?;
    }
}

/// Fills as much of `buf` as the reader has; the number of bytes read.
fn read_up_to(file: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A 16 kHz mono 16-bit WAV with `samples` samples whose data chunk declares `data_size`.
    fn wav(samples: usize, data_size: u32) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(36 + 2 * samples as u32).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes()); // PCM
        out.extend_from_slice(&1u16.to_le_bytes()); // mono
        out.extend_from_slice(&16_000u32.to_le_bytes());
        out.extend_from_slice(&32_000u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&data_size.to_le_bytes());
        out.resize(out.len() + 2 * samples, 0);
        out
    }

    fn check_bytes(bytes: &[u8]) -> Result<WavHeader, WavProblem> {
        check(Cursor::new(bytes), bytes.len() as u64)
    }

    #[test]
    fn a_whole_wav_declares_its_duration() {
        assert_eq!(
            check_bytes(&wav(32_000, 64_000)),
            Ok(WavHeader::Sound { declared_ms: 2000 })
        );
    }

    #[test]
    fn a_data_size_past_the_end_is_a_cut_file() {
        assert_eq!(
            check_bytes(&wav(16_000, 320_000)),
            Ok(WavHeader::Cut {
                declared_ms: 10_000,
                present_ms: 1000
            })
        );
    }

    #[test]
    fn an_unfilled_data_size_is_unknown() {
        assert_eq!(
            check_bytes(&wav(8000, 0xFFFF_FFFF)),
            Ok(WavHeader::UnknownSize { present_ms: 500 })
        );
    }

    #[test]
    fn other_files_are_not_checked() {
        assert_eq!(check_bytes(b"\0\0\0\x18ftypmp42"), Ok(WavHeader::NotWav));
        assert_eq!(check_bytes(b""), Ok(WavHeader::NotWav));
    }

    #[test]
    fn a_format_of_zero_channels_is_refused() {
        let mut bytes = wav(100, 200);
        bytes[22] = 0;
        assert_eq!(
            check_bytes(&bytes),
            Err(WavProblem::ZeroFormat {
                channels: 0,
                rate_hz: 16_000,
                block_align: 2
            })
        );
    }

    #[test]
    fn a_header_cut_before_the_data_chunk_is_refused() {
        assert_eq!(
            check_bytes(&wav(0, 0)[..30]),
            Err(WavProblem::ChunkPastEnd {
                id: "fmt ".into(),
                offset: 12,
                size: 16,
                left: 10
            })
        );
        assert_eq!(check_bytes(&wav(0, 0)[..36]), Err(WavProblem::NoData));
    }

    #[test]
    fn data_before_format_is_refused() {
        let mut bytes = b"RIFF\0\0\0\0WAVEdata\x04\0\0\0\0\0\0\0".to_vec();
        bytes.extend_from_slice(&[0; 4]);
        assert_eq!(check_bytes(&bytes), Err(WavProblem::NoFormat));
    }
}
