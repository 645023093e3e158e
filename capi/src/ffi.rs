//! The checks every call makes on what C hands it: pointers, lengths, init markers.

use core::mem::{align_of, size_of};

use crate::tg_result;

/// A Rust object living in caller-owned storage. `#[repr(C)]` with the marker first, so the
/// marker can be read before anything else is trusted.
///
/// # Safety
/// `Self` is `#[repr(C)]` and its first field is a `u64` marker, set to `MAGIC` by `init`.
pub(crate) unsafe trait Stored: Sized {
    /// The marker an initialised object carries (one per type, so a cache passed where a
    /// policy is expected is not initialised).
    const MAGIC: u64;
    /// The C storage type.
    type Storage;
}

/// Checks a storage declaration against the Rust type it holds (at compile time).
pub(crate) const fn fits<S, T>() -> bool {
    size_of::<T>() <= size_of::<S>() && align_of::<T>() <= align_of::<S>()
}

/// The object behind `p`, if `p` is not NULL, is aligned, and carries the marker.
///
/// # Safety
/// `p` is NULL or points to storage of `T::Storage`'s size, readable and writable, that no
/// other reference aliases for `'a`.
pub(crate) unsafe fn object<'a, T: Stored>(p: *mut T::Storage) -> Result<&'a mut T, tg_result> {
    if p.is_null() {
        return Err(tg_result::NullArgument);
    }
    if !(p as usize).is_multiple_of(align_of::<T>()) {
        return Err(tg_result::InvalidArgument);
    }
    let t = p.cast::<T>();
    // SAFETY: `p` is non-NULL, aligned and points to at least `size_of::<T>()` bytes (the
    // caller's contract and `fits`); the marker is the first field of the `repr(C)` `T`, so
    // it is read without assuming anything else about the bytes.
    let marker = unsafe { t.cast::<u64>().read() };
    if marker != T::MAGIC {
        return Err(tg_result::NotInitialized);
    }
    // SAFETY: the marker says `init` wrote a whole `T` here, and the caller guarantees no
    // aliasing for `'a`.
    Ok(unsafe { &mut *t })
}

/// As [`object`], read-only.
///
/// # Safety
/// As [`object`], for reading.
pub(crate) unsafe fn object_ref<'a, T: Stored>(p: *const T::Storage) -> Result<&'a T, tg_result> {
    // SAFETY: forwarded contract; the reference is downgraded to shared at once.
    unsafe { object::<T>(p.cast_mut()).map(|t| &*t) }
}

/// Builds the object `make` returns in the storage behind `p` (replacing whatever was there,
/// initialised or not) and returns it. Inlined, so the value is built in place: an object
/// of several KiB is never a temporary on the caller's stack.
///
/// # Safety
/// `p` is NULL or points to writable storage of `T::Storage`'s size.
#[inline(always)]
pub(crate) unsafe fn init<'a, T: Stored>(
    p: *mut T::Storage,
    make: impl FnOnce() -> T,
) -> Result<&'a mut T, tg_result> {
    if p.is_null() {
        return Err(tg_result::NullArgument);
    }
    if !(p as usize).is_multiple_of(align_of::<T>()) {
        return Err(tg_result::InvalidArgument);
    }
    let t = p.cast::<T>();
    // SAFETY: non-NULL, aligned, large enough (`fits`), writable (the caller's contract);
    // `write` does not read or drop the old bytes.
    unsafe { t.write(make()) };
    // SAFETY: just written.
    Ok(unsafe { &mut *t })
}

/// `len` bytes at `p`; `p` must not be NULL, even for an empty input.
///
/// # Safety
/// `p` is NULL or points to `len` readable bytes that stay unchanged for `'a`.
pub(crate) unsafe fn bytes<'a>(p: *const u8, len: usize) -> Result<&'a [u8], tg_result> {
    if p.is_null() {
        return Err(tg_result::NullArgument);
    }
    if len > isize::MAX as usize {
        return Err(tg_result::InvalidArgument);
    }
    // SAFETY: non-NULL, `len` readable bytes (the caller's contract), `len <= isize::MAX`.
    Ok(unsafe { core::slice::from_raw_parts(p, len) })
}

/// As [`bytes`], for an optional argument: NULL is `None`.
#[cfg(feature = "signing")]
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn opt_bytes<'a>(
    p: *const u8,
    len: usize,
) -> Result<Option<&'a [u8]>, tg_result> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    unsafe { bytes(p, len) }.map(Some)
}

/// `len` bytes at `p` as UTF-8 text.
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn text<'a>(p: *const u8, len: usize) -> Result<&'a str, tg_result> {
    // SAFETY: forwarded contract.
    let b = unsafe { bytes(p, len) }?;
    core::str::from_utf8(b).map_err(|_| tg_result::BadUtf8)
}

/// A writable buffer of `len` bytes at `p`.
///
/// # Safety
/// `p` is NULL or points to `len` writable bytes that nothing else uses for `'a`.
pub(crate) unsafe fn buffer<'a>(p: *mut u8, len: usize) -> Result<&'a mut [u8], tg_result> {
    if p.is_null() {
        return Err(tg_result::NullArgument);
    }
    if len > isize::MAX as usize {
        return Err(tg_result::InvalidArgument);
    }
    // SAFETY: non-NULL, `len` writable bytes, not aliased (the caller's contract).
    Ok(unsafe { core::slice::from_raw_parts_mut(p, len) })
}

/// An output pointer, checked for NULL before any work is done.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    /// `p`, which must not be NULL.
    pub(crate) fn new(p: *mut T) -> Result<Self, tg_result> {
        if p.is_null() {
            Err(tg_result::NullArgument)
        } else {
            Ok(Out(p))
        }
    }

    /// `p`, which may be NULL (nothing is then written).
    pub(crate) fn optional(p: *mut T) -> Option<Self> {
        (!p.is_null()).then_some(Out(p))
    }

    /// Writes the output.
    ///
    /// # Safety
    /// The pointer given to [`Self::new`] points to writable storage for a `T`.
    pub(crate) unsafe fn set(self, value: T) {
        // SAFETY: non-NULL (checked at construction), writable (the caller's contract);
        // `write` does not drop the caller's old bytes, which may be uninitialised.
        unsafe { self.0.write(value) }
    }
}

/// Runs `f` and folds its `Result` into a code.
pub(crate) fn run(f: impl FnOnce() -> Result<(), tg_result>) -> tg_result {
    match f() {
        Ok(()) => tg_result::Ok,
        Err(e) => e,
    }
}
