//! The component's allocator: free lists of small blocks on top of the
//! system allocator.
//!
//! A mapping builds a JSON tree of thousands of small strings and objects and
//! frees it once the bundle is written; the guest's default allocator
//! (dlmalloc in linear memory) spends much of the mapping in `malloc` and
//! `free`. Blocks of up to [`LARGEST`] bytes are kept, once freed, on a free
//! list per size class and handed out again for the next message; larger
//! ones go to the system allocator. The lists hold at most [`KEPT`] bytes,
//! so that what one large message freed cannot crowd the memory limit for the
//! next; beyond that, freed blocks go back to the system allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, UnsafeCell};
use std::ptr;

/// Block sizes are multiples of this, which is also their alignment.
const GRANULE: usize = 8;
/// The number of size classes: blocks of 8, 16, ... [`LARGEST`] bytes.
const CLASSES: usize = 32;
/// The largest block kept on a free list.
const LARGEST: usize = GRANULE * CLASSES;
/// The most bytes the free lists hold.
const KEPT: usize = 8 << 20;

/// The free lists: per size class, the first free block, whose first word
/// points at the next one (null at the end).
pub struct SmallBlocks {
    free: UnsafeCell<[*mut u8; CLASSES]>,
    /// The bytes on the free lists.
    kept: Cell<usize>,
}

// SAFETY: a Wasm component instance runs on one thread (wasm32-wasip2 has no
// threads), so the free lists are never touched concurrently.
unsafe impl Sync for SmallBlocks {}

impl SmallBlocks {
    /// Empty free lists.
    pub const fn new() -> Self {
        SmallBlocks {
            free: UnsafeCell::new([ptr::null_mut(); CLASSES]),
            kept: Cell::new(0),
        }
    }
}

/// The size class of `layout`, if it is small enough to keep.
fn class(layout: Layout) -> Option<usize> {
    (layout.size() <= LARGEST && layout.align() <= GRANULE)
        .then(|| layout.size().max(1).div_ceil(GRANULE) - 1)
}

/// The layout of every block of size class `class`.
fn class_layout(class: usize) -> Layout {
    Layout::from_size_align((class + 1) * GRANULE, GRANULE).expect("a small power-of-two layout")
}

// SAFETY: small blocks are allocated with their class's layout and only
// reused for a layout of the same class, which fits in it (size and
// alignment); everything else is passed through to `System` unchanged.
unsafe impl GlobalAlloc for SmallBlocks {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class(layout) else {
            // SAFETY: the caller's layout, as `GlobalAlloc::alloc` requires.
            return unsafe { System.alloc(layout) };
        };
        // SAFETY: single-threaded (see `Sync`), and no other reference to
        // the lists lives across this call.
        let head = unsafe { &mut (*self.free.get())[class] };
        if head.is_null() {
            // SAFETY: a valid non-zero layout.
            return unsafe { System.alloc(class_layout(class)) };
        }
        let taken = *head;
        // SAFETY: a free block holds the next free block in its first word
        // (every block is at least a word and word-aligned).
        *head = unsafe { taken.cast::<*mut u8>().read() };
        self.kept.set(self.kept.get() - class_layout(class).size());
        taken
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(class) = class(layout) else {
            // SAFETY: allocated by `System` with this layout (see `alloc`).
            return unsafe { System.dealloc(block, layout) };
        };
        let size = class_layout(class).size();
        if self.kept.get() + size > KEPT {
            // SAFETY: small blocks come from `System` with their class's layout.
            return unsafe { System.dealloc(block, class_layout(class)) };
        }
        self.kept.set(self.kept.get() + size);
        // SAFETY: as in `alloc`; the freed block is ours again, so its first
        // word can hold the list's link.
        unsafe {
            let head = &mut (*self.free.get())[class];
            block.cast::<*mut u8>().write(*head);
            *head = block;
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `GlobalAlloc::realloc` guarantees that `new_size` with the
        // old alignment is a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class(layout), class(new_layout)) {
            // SAFETY: a `System` block with its layout, as required.
            (None, None) => unsafe { System.realloc(block, layout, new_size) },
            (Some(old), Some(new)) if old == new => block,
            _ => {
                // SAFETY: a fresh block for the new layout; the old one is
                // valid for its size and freed with its own layout.
                unsafe {
                    let moved = self.alloc(new_layout);
                    if !moved.is_null() {
                        ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                    moved
                }
            }
        }
    }
}
