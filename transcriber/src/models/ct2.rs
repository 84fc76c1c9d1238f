//! Reader of CTranslate2 `model.bin` files (the faster-whisper form of Whisper weights).

use std::collections::HashMap;
use std::ops::Range;

use super::ModelError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    BF16,
}

impl DType {
    fn from_code(code: u8) -> Option<DType> {
        Some(match code {
            0 => DType::F32,
            1 => DType::I8,
            2 => DType::I16,
            3 => DType::I32,
            4 => DType::F16,
            5 => DType::BF16,
            _ => return None,
        })
    }

    pub fn size_bytes(self) -> usize {
        match self {
            DType::I8 => 1,
            DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::F32 | DType::I32 => 4,
        }
    }
}

/// One named array of the model, pointing into the file's bytes.
#[derive(Clone, Debug)]
pub struct Variable {
    pub dims: Vec<usize>,
    pub dtype: DType,
    pub bytes: Range<usize>,
}

impl Variable {
    pub fn elements(&self) -> usize {
        self.dims.iter().product()
    }
}

/// A parsed `model.bin`: its variables (aliases resolved) over the file's bytes.
pub struct Ct2Model {
    pub spec: String,
    data: Vec<u8>,
    variables: HashMap<String, Variable>,
}

struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize, what: &str) -> Result<Range<usize>, ModelError> {
        let end = self.at.checked_add(n).filter(|&end| end <= self.data.len());
        let Some(end) = end else {
            return Err(ModelError::Truncated(format!(
                "model.bin ends at byte {} while reading {what} ({n} bytes at byte {})",
                self.data.len(),
                self.at
            )));
        };
        let range = self.at..end;
        self.at = end;
        Ok(range)
    }

    fn u8(&mut self, what: &str) -> Result<u8, ModelError> {
        let r = self.take(1, what)?;
        Ok(self.data[r.start])
    }

    fn u16(&mut self, what: &str) -> Result<u16, ModelError> {
        let r = self.take(2, what)?;
        Ok(u16::from_le_bytes([
            self.data[r.start],
            self.data[r.start + 1],
        ]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, ModelError> {
        let r = self.take(4, what)?;
        let b = &self.data[r];
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self, what: &str) -> Result<String, ModelError> {
        let len = self.u16(what)? as usize;
        let r = self.take(len, what)?;
        let bytes = &self.data[r];
        let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
        String::from_utf8(bytes.to_vec())
            .map_err(|_| ModelError::Corrupt(format!("{what} is not UTF-8 text")))
    }
}

impl Ct2Model {
    pub fn parse(data: Vec<u8>) -> Result<Ct2Model, ModelError> {
        let mut c = Cursor { data: &data, at: 0 };
        let version = c.u32("the format version")?;
        if !(1..=6).contains(&version) {
            return Err(ModelError::UnknownFormat(format!(
                "not a CTranslate2 model.bin (format version {version}, expected 1 to 6)"
            )));
        }
        let spec = if version >= 2 {
            let name = c.string("the spec name")?;
            c.u32("the spec revision")?;
            name
        } else {
            String::new()
        };
        let count = c.u32("the variable count")?;
        let mut variables = HashMap::new();
        for i in 0..count {
            let name = c.string(&format!("variable {i}'s name"))?;
            let rank = c.u8(&format!("{name}'s rank"))?;
            let dims = (0..rank)
                .map(|_| c.u32(&format!("{name}'s shape")).map(|d| d as usize))
                .collect::<Result<Vec<_>, _>>()?;
            let code = c.u8(&format!("{name}'s type"))?;
            let dtype = DType::from_code(code).ok_or_else(|| {
                ModelError::Corrupt(format!("{name} has unknown type code {code}"))
            })?;
            let len = c.u32(&format!("{name}'s size"))? as usize;
            let expected = dims.iter().product::<usize>() * dtype.size_bytes();
            if len != expected {
                return Err(ModelError::Corrupt(format!(
                    "{name} holds {len} bytes, expected {expected} for shape {dims:?}"
                )));
            }
            let bytes = c.take(len, &format!("{name}'s data"))?;
            variables.insert(name, Variable { dims, dtype, bytes });
        }
        if version >= 3 {
            let aliases = c.u32("the alias count")?;
            for _ in 0..aliases {
                let alias = c.string("an alias")?;
                let target = c.string("an alias target")?;
                if let Some(v) = variables.get(&target).cloned() {
                    variables.insert(alias, v);
                }
            }
        }
        if c.at != data.len() {
            return Err(ModelError::Corrupt(format!(
                "{} unexpected bytes after the last variable (parts that do not belong together?)",
                data.len() - c.at
            )));
        }
        Ok(Ct2Model {
            spec,
            data,
            variables,
        })
    }

    pub fn get(&self, name: &str) -> Result<&Variable, ModelError> {
        self.variables
            .get(name)
            .ok_or_else(|| ModelError::Corrupt(format!("variable {name} is missing")))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.variables.keys().map(String::as_str)
    }

    pub fn bytes(&self, var: &Variable) -> &[u8] {
        &self.data[var.bytes.clone()]
    }

    /// A rank-0 integer variable such as `encoder/num_heads`.
    pub fn scalar(&self, name: &str) -> Result<i64, ModelError> {
        let var = self.get(name)?;
        let b = self.bytes(var);
        Ok(match (var.dtype, b.len()) {
            (DType::I8, 1) => i64::from(b[0] as i8),
            (DType::I16, 2) => i64::from(i16::from_le_bytes([b[0], b[1]])),
            (DType::I32, 4) => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            _ => {
                return Err(ModelError::Corrupt(format!(
                    "{name} is not an integer scalar ({:?}, {} bytes)",
                    var.dtype,
                    b.len()
                )))
            }
        })
    }
}
