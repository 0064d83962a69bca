//! safetensors checkpoints mapped into memory (csrc/mapped_file.cpp): each tensor is a view of
//! the file's pages, which the page cache holds once for every model copy and process that maps
//! the file, instead of a read into a buffer and a copy into tensors per copy. The mapping is
//! private: a tensor written in place (training) gets its own copy of the pages it writes, and
//! the file is never changed. A file truncated while mapped would fault on access; goemo
//! replaces checkpoints by renaming a new file over the old one, which leaves a mapping intact.

use std::ffi::{c_char, CString};
use std::path::Path;

use tch::{Kind, Tensor};

use crate::{shim_error, Result, TorchError};

#[repr(C)]
struct MappedFile {
    _private: [u8; 0],
}

extern "C" {
    fn goemo_map_file(path: *const c_char, error: *mut c_char, error_len: usize) -> *mut MappedFile;
    fn goemo_mapped_file_data(file: *mut MappedFile) -> *const u8;
    fn goemo_mapped_file_size(file: *mut MappedFile) -> usize;
    fn goemo_mapped_tensor(
        file: *mut MappedFile,
        offset: u64,
        sizes: *const i64,
        dims: i64,
        dtype: i32,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut torch_sys::C_tensor;
    fn goemo_mapped_file_free(file: *mut MappedFile);
}

/// Frees the shim's handle; the mapping lives on in the tensors made from it.
struct Handle(*mut MappedFile);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: made by goemo_map_file, owned here, freed once.
        unsafe { goemo_mapped_file_free(self.0) }
    }
}

/// libtorch's code (c10::ScalarType) and tch's kind for a safetensors dtype, where libtorch has it.
fn scalar_type(dtype: safetensors::Dtype) -> Option<(i32, Kind)> {
    match dtype {
        safetensors::Dtype::U8 => Some((0, Kind::Uint8)),
        safetensors::Dtype::I8 => Some((1, Kind::Int8)),
        safetensors::Dtype::I16 => Some((2, Kind::Int16)),
        safetensors::Dtype::I32 => Some((3, Kind::Int)),
        safetensors::Dtype::I64 => Some((4, Kind::Int64)),
        safetensors::Dtype::BOOL => Some((11, Kind::Bool)),
        safetensors::Dtype::F16 => Some((5, Kind::Half)),
        safetensors::Dtype::F32 => Some((6, Kind::Float)),
        safetensors::Dtype::F64 => Some((7, Kind::Double)),
        safetensors::Dtype::BF16 => Some((15, Kind::BFloat16)),
        _ => None,
    }
}

/// The tensors of a safetensors file, in the file's order, as CPU tensors over a private mapping
/// of it (see the module's notes). A dtype libtorch does not have (unsigned 16 to 64 bits), a
/// header that does not parse, or a tensor outside the file is an error naming the file and the
/// tensor.
pub fn map_safetensors(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let file_error = |message: String| TorchError::File {
        path: path.to_path_buf(),
        message,
    };
    let c_path =
        CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| file_error("the path has a NUL byte".into()))?;
    let mut error = [0 as c_char; 1024];
    // SAFETY: a NUL-terminated path; the shim catches every C++ exception and returns null or a
    // handle this function owns.
    let handle = Handle(unsafe { goemo_map_file(c_path.as_ptr(), error.as_mut_ptr(), error.len()) });
    if handle.0.is_null() {
        return Err(file_error(shim_error("map file", &error).to_string()));
    }
    // SAFETY: the mapping is `size` readable bytes and lives while `handle` does (through this
    // function). Nothing writes to it while the slice is alive: the tensors made below are only
    // created, and are returned after the slice's last use.
    let bytes: &[u8] = unsafe {
        let size = goemo_mapped_file_size(handle.0);
        if size == 0 {
            &[]
        } else {
            std::slice::from_raw_parts(goemo_mapped_file_data(handle.0), size)
        }
    };
    let file = safetensors::SafeTensors::deserialize(bytes).map_err(|e| file_error(format!("{e:?}")))?;
    let base = bytes.as_ptr() as usize;
    let mut tensors = Vec::new();
    for (name, view) in file.tensors() {
        let Some((dtype, kind)) = scalar_type(view.dtype()) else {
            return Err(file_error(format!(
                "tensor {name} has dtype {:?}, which libtorch does not have",
                view.dtype()
            )));
        };
        let offset = (view.data().as_ptr() as usize - base) as u64;
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        // SAFETY: a live handle and a shape slice borrowed for the call; the shim checks the
        // range against the mapping, catches every C++ exception and returns null or a new
        // tensor that keeps the mapping alive.
        let tensor = unsafe {
            goemo_mapped_tensor(
                handle.0,
                offset,
                shape.as_ptr(),
                shape.len() as i64,
                dtype,
                error.as_mut_ptr(),
                error.len(),
            )
        };
        if tensor.is_null() {
            return Err(file_error(format!(
                "tensor {name}: {}",
                shim_error("map tensor", &error)
            )));
        }
        // SAFETY: a tensor the shim allocated with `new` for the caller; tch frees it on drop.
        let tensor = unsafe { Tensor::from_ptr(tensor) };
        debug_assert_eq!(tensor.kind(), kind);
        tensors.push((name, tensor));
    }
    Ok(tensors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("goemo-mapped-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("model.safetensors")
    }

    #[test]
    fn mapped_tensors_equal_the_written_ones_and_outlive_the_call() {
        let path = scratch("equal");
        let a = Tensor::randn([7, 5], (Kind::Float, Device::Cpu));
        let b = Tensor::randn([3], (Kind::Float, Device::Cpu)).to_kind(Kind::BFloat16);
        let c = Tensor::randn([2, 2], (Kind::Double, Device::Cpu));
        Tensor::write_safetensors(&[("a", &a), ("b", &b), ("c", &c)], &path).unwrap();
        let mapped: std::collections::HashMap<String, Tensor> = map_safetensors(&path).unwrap().into_iter().collect();
        assert!(mapped["a"].equal(&a) && mapped["b"].equal(&b) && mapped["c"].equal(&c));
        // Written in place: the tensor changes, the file does not.
        let mut first = mapped["a"].shallow_clone();
        let _ = first.fill_(3.0);
        let again: std::collections::HashMap<String, Tensor> = map_safetensors(&path).unwrap().into_iter().collect();
        assert!(again["a"].equal(&a));
        assert_eq!(mapped["a"].double_value(&[0, 0]), 3.0);
        // Still readable after the file is gone.
        std::fs::remove_file(&path).unwrap();
        drop(again);
        assert!(mapped["c"].equal(&c));
    }

    #[test]
    fn bad_files_are_errors_naming_them() {
        let path = scratch("bad");
        let err = map_safetensors(&path.with_file_name("missing.safetensors"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing.safetensors") && err.contains("cannot open"),
            "{err}"
        );
        std::fs::write(&path, b"not a safetensors file").unwrap();
        let err = map_safetensors(&path).unwrap_err().to_string();
        assert!(err.contains("model.safetensors"), "{err}");
        let ids = Tensor::arange(4, (Kind::Int64, Device::Cpu));
        Tensor::write_safetensors(&[("ids", &ids)], &path).unwrap();
        assert!(map_safetensors(&path).unwrap()[0].1.equal(&ids));
        // A dtype libtorch lacks, in a file written by hand: header length, header, data.
        let header = br#"{"x":{"dtype":"U32","shape":[1],"data_offsets":[0,4]}}"#;
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(&[0; 4]);
        std::fs::write(&path, bytes).unwrap();
        let err = map_safetensors(&path).unwrap_err().to_string();
        assert!(err.contains("tensor x") && err.contains("U32"), "{err}");
        std::fs::write(&path, b"").unwrap();
        assert!(map_safetensors(&path).is_err());
    }

    #[test]
    fn a_misaligned_data_section_is_copied() {
        // A 57-byte header puts the data at byte 65: not a multiple of 4, so the f32 tensor is a
        // copy, not a view.
        let header = br#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}   "#;
        assert_eq!((8 + header.len()) % 4, 1);
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        for value in [1.5f32, -2.0] {
            bytes.extend_from_slice(&value.to_le_bytes());
        }
        let path = scratch("misaligned");
        std::fs::write(&path, bytes).unwrap();
        let mapped = map_safetensors(&path).unwrap();
        assert_eq!(mapped[0].0, "x");
        assert!(mapped[0].1.equal(&Tensor::from_slice(&[1.5f32, -2.0])));
    }
}
