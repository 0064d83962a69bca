// Files mapped into memory, and tensors over them that keep the mapping alive: a checkpoint's
// weights are read where the page cache holds them, shared by every model copy and process that
// maps the file, instead of being read into a buffer and copied into each copy's tensors.
// MAP_PRIVATE: a tensor written in place (training) gets its own copy of the pages it writes,
// and the file never changes.
#include <ATen/ATen.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "shim_common.hpp"

namespace goemo {
struct Mapping {
  void* data = nullptr;
  size_t size = 0;
  Mapping(void* d, size_t s) : data(d), size(s) {}
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (data != nullptr) munmap(data, size);
  }
};
using MappedFile = std::shared_ptr<Mapping>;
}  // namespace goemo

extern "C" {

// Maps the whole file at `path` (private, readable and writable copy-on-write). Returns the
// mapping (freed by goemo_mapped_file_free; tensors made from it keep it alive), or nullptr
// with the reason.
goemo::MappedFile* goemo_map_file(const char* path, char* error, size_t error_len) {
  goemo::MappedFile* result = nullptr;
  goemo::guarded(error, error_len, [&] {
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    TORCH_CHECK(fd >= 0, "cannot open: ", std::strerror(errno));
    struct stat info {};
    if (fstat(fd, &info) != 0) {
      const int code = errno;
      close(fd);
      TORCH_CHECK(false, "cannot stat: ", std::strerror(code));
    }
    const auto size = static_cast<size_t>(info.st_size);
    void* data = nullptr;
    if (size > 0) {
      data = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
      const int code = errno;
      close(fd);
      TORCH_CHECK(data != MAP_FAILED, "cannot map ", size, " bytes: ", std::strerror(code));
    } else {
      close(fd);
    }
    result = new goemo::MappedFile(std::make_shared<goemo::Mapping>(data, size));
  });
  return result;
}

const uint8_t* goemo_mapped_file_data(goemo::MappedFile* file) {
  return static_cast<const uint8_t*>((*file)->data);
}

size_t goemo_mapped_file_size(goemo::MappedFile* file) { return (*file)->size; }

// A CPU tensor of `dims` sizes (contiguous) and the libtorch scalar type `dtype` over the bytes
// at `offset`, sharing the mapping (kept alive until the tensor's storage is freed); a copy where
// the offset is not aligned to the element size. A range outside the file is an error. Returns a
// new tensor, or nullptr with the message.
at::Tensor* goemo_mapped_tensor(goemo::MappedFile* file, uint64_t offset, const int64_t* sizes, int64_t dims,
                                int32_t dtype, char* error, size_t error_len) {
  at::Tensor* result = nullptr;
  goemo::guarded(error, error_len, [&] {
    const auto type = static_cast<c10::ScalarType>(dtype);
    const c10::IntArrayRef shape(sizes, static_cast<size_t>(dims));
    int64_t count = 1;
    for (const int64_t d : shape) {
      TORCH_CHECK(d >= 0, "negative size in ", shape);
      count *= d;
    }
    const uint64_t bytes = static_cast<uint64_t>(count) * c10::elementSize(type);
    const auto& mapping = *file;
    TORCH_CHECK(offset <= mapping->size && bytes <= mapping->size - offset, "bytes ", offset, " to ",
                offset + bytes, " are outside the file's ", mapping->size);
    auto* data = static_cast<uint8_t*>(mapping->data) + offset;
    if (offset % c10::elementSize(type) != 0) {
      // Writers that do not align the data section: a copy, as elements must be aligned.
      auto copy = at::empty(shape, at::TensorOptions().dtype(type));
      std::memcpy(copy.data_ptr(), data, bytes);
      result = new at::Tensor(copy);
      return;
    }
    goemo::MappedFile keep = mapping;
    result = new at::Tensor(at::from_blob(
        data, shape, [keep](void*) mutable { keep.reset(); }, at::TensorOptions().dtype(type)));
  });
  return result;
}

void goemo_mapped_file_free(goemo::MappedFile* file) { delete file; }
}
