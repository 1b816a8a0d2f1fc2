//! A virtqueue's ring as it lies in Guest memory, and how the Launcher reads it without trusting it.
//!
//! The ring is the standard virtio layout (include/linux/virtio_ring.h) with lguest's alignment of 4096
//! (`LGUEST_VRING_ALIGN`): a table of `num` descriptors (16 bytes each: addr u64, len u32, flags u16,
//! next u16); the available ring the Guest fills (flags u16, idx u16, ring[num] u16, used_event u16); padding
//! to the next 4096-byte boundary; the used ring the Launcher fills (flags u16, idx u16, ring[num] of
//! {id u32, len u32}, avail_event u16).
//!
//! Everything in the ring is written by the Guest, so everything is checked before use: an index that ran
//! ahead, a head beyond the table, a `next` beyond it, a chain that loops, a buffer outside the Guest's
//! memory, an indirect table of a bad size. The real Launcher `errx()`s on each of these (its
//! `wait_for_vq_desc()`, `next_desc()` and `check_pointer()`): a [`VqError`] carries the text it prints,
//! exactly, and beside it what exactly was wrong, for the event. Nothing here can panic.

pub use super::GuestMem;
#[cfg(test)]
use crate::guest_ram::GuestRam;

/// `LGUEST_VRING_ALIGN` (include/linux/lguest_launcher.h): where the used ring starts.
pub const LGUEST_VRING_ALIGN: u32 = 4096;
/// `VIRTQUEUE_NUM` of the 2.6.39 Launcher: descriptors in every ring it makes.
pub const VIRTQUEUE_NUM: u16 = 256;

/// `VRING_DESC_F_NEXT`: the chain continues at `next`.
pub const VRING_DESC_F_NEXT: u16 = 1;
/// `VRING_DESC_F_WRITE`: the device writes this buffer (an "in" buffer); otherwise it reads it.
pub const VRING_DESC_F_WRITE: u16 = 2;
/// `VRING_DESC_F_INDIRECT`: the buffer holds a table of descriptors.
pub const VRING_DESC_F_INDIRECT: u16 = 4;
/// `VRING_USED_F_NO_NOTIFY`, in `used->flags`: the Launcher says "I am awake, no need to kick me".
pub const VRING_USED_F_NO_NOTIFY: u16 = 1;
/// `VRING_AVAIL_F_NO_INTERRUPT`, in `avail->flags`: the Guest says "do not interrupt me for used buffers".
pub const VRING_AVAIL_F_NO_INTERRUPT: u16 = 1;

/// Where the three parts of a ring of `num` descriptors starting at Guest-physical `base` are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vring {
    pub num: u16,
    pub desc: u32,
    pub avail: u32,
    pub used: u32,
}

fn align_up(x: u32, a: u32) -> u32 {
    (x + a - 1) & !(a - 1)
}

/// `vring_size()`: bytes a ring of `num` descriptors takes with lguest's alignment.
pub fn vring_size(num: u16) -> u32 {
    let n = num as u32;
    align_up(16 * n + 2 * (3 + n), LGUEST_VRING_ALIGN) + 2 * 3 + 8 * n
}

impl Vring {
    /// `vring_init()`: lay a ring out at `base`.
    pub fn new(num: u16, base: u32) -> Vring {
        let n = num as u32;
        let avail = base.wrapping_add(16 * n);
        let used = align_up(avail.saturating_add(2 * (3 + n)).min(u32::MAX - LGUEST_VRING_ALIGN), LGUEST_VRING_ALIGN);
        Vring { num, desc: base, avail, used }
    }

    pub fn avail_flags(&self) -> u32 {
        self.avail
    }
    pub fn avail_idx(&self) -> u32 {
        self.avail + 2
    }
    pub fn avail_ring(&self, i: u16) -> u32 {
        self.avail + 4 + 2 * (i % self.num.max(1)) as u32
    }
    pub fn used_flags(&self) -> u32 {
        self.used
    }
    pub fn used_idx(&self) -> u32 {
        self.used + 2
    }
    pub fn used_elem(&self, i: u16) -> u32 {
        self.used + 4 + 8 * (i % self.num.max(1)) as u32
    }
}

/// One descriptor of the table, as the Guest wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Desc {
    pub addr: u64,
    pub len: u32,
    pub flags: u16,
    pub next: u16,
}

/// One buffer of a chain, checked to lie inside the Guest's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buf {
    pub addr: u32,
    pub len: u32,
}

/// A chain of buffers the Guest made available: `out` ones the device reads, then `inb` ones it writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub head: u16,
    pub out: Vec<Buf>,
    pub inb: Vec<Buf>,
}

pub fn get16(ram: &impl GuestMem, addr: u32) -> Result<u16, String> {
    let mut b = [0u8; 2];
    ram.read(addr, &mut b).map_err(|_| format!("the ring at {addr:#x} is outside the Guest's memory"))?;
    Ok(u16::from_le_bytes(b))
}

pub fn put16(ram: &mut impl GuestMem, addr: u32, v: u16) -> Result<(), String> {
    ram.write(addr, &v.to_le_bytes()).map_err(|_| format!("the ring at {addr:#x} is outside the Guest's memory"))
}

pub fn read_desc(ram: &impl GuestMem, vr: &Vring, i: u16) -> Result<Desc, String> {
    read_desc_at(ram, vr.desc, i as u32)
}

/// Descriptor `i` of a table at `table` (the ring's own, or an indirect one).
fn read_desc_at(ram: &impl GuestMem, table: u32, i: u32) -> Result<Desc, String> {
    let mut b = [0u8; 16];
    let at = table as u64 + 16 * i as u64;
    if at > u32::MAX as u64 {
        return Err(format!("descriptor {i} at {at:#x} is outside the Guest's memory"));
    }
    ram.read(at as u32, &mut b).map_err(|_| format!("descriptor {i} at {at:#x} is outside the Guest's memory"))?;
    Ok(Desc {
        addr: u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        len: u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
        flags: u16::from_le_bytes([b[12], b[13]]),
        next: u16::from_le_bytes([b[14], b[15]]),
    })
}

/// Why the Launcher gives up on a ring: `text` is what its `errx()` prints (after "lguest: "), `why` says in
/// our words what was wrong (empty for what the real Launcher could never meet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VqError {
    pub text: String,
    pub why: String,
}

impl VqError {
    fn new(text: impl Into<String>, why: impl Into<String>) -> VqError {
        VqError { text: text.into(), why: why.into() }
    }
}

impl From<String> for VqError {
    fn from(text: String) -> VqError {
        VqError { text, why: String::new() }
    }
}

/// C's `%#lx`: glibc writes zero as plain "0" (the `#` adds 0x only to a nonzero value).
pub fn c_hex(v: u32) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

/// The lines of lguest.c (2.6.39) whose `check_pointer()` calls a bad buffer is reported from: the macro
/// passes `__LINE__`, so the message names the call.
pub const CHECK_POINTER_INDIRECT_LINE: u32 = 730;
pub const CHECK_POINTER_DESC_LINE: u32 = 738;

/// L:200 `check_pointer()`: a buffer must end at or below `guest_limit`, without wrapping. On i386 the
/// Launcher's `unsigned long` holds only the low 32 bits of a descriptor's 64-bit address, and the sum wraps
/// in 32 bits, as there. `line` is the lguest.c line of the call, which the message names.
pub fn check_pointer(addr: u64, len: u32, guest_limit: u32, line: u32) -> Result<Buf, VqError> {
    let a = addr as u32;
    let end = a.wrapping_add(len);
    if end > guest_limit || end < a {
        let cut = if addr > u32::MAX as u64 { format!(" (the descriptor said {addr:#x}; an i386 unsigned long keeps the low 32 bits)") } else { String::new() };
        return Err(VqError::new(
            format!("lguest.c:{line}: Invalid address {}", c_hex(a)),
            format!("the buffer at {a:#x}, {len:#x} bytes long, does not lie inside the Guest's memory ({guest_limit:#x} bytes){cut}"),
        ));
    }
    Ok(Buf { addr: a, len })
}

/// The part of `wait_for_vq_desc()` after something is available: take the head at `*last_avail`, advance
/// the Launcher's count, and walk the chain (through an indirect table if the head is one). `Ok(None)` if
/// nothing is available.
pub fn next_chain(ram: &impl GuestMem, vr: &Vring, last_avail: &mut u16, guest_limit: u32) -> Result<Option<Chain>, VqError> {
    let idx = get16(ram, vr.avail_idx())?;
    if idx == *last_avail {
        return Ok(None);
    }
    // The Guest can only be `num` buffers ahead of us: more means its index is garbage.
    if idx.wrapping_sub(*last_avail) > vr.num {
        return Err(VqError::new(
            format!("Guest moved used index from {} to {}", *last_avail, idx),
            format!("avail->idx ran {} ahead of the Launcher's last_avail_idx, more than the ring's {} entries", idx.wrapping_sub(*last_avail), vr.num),
        ));
    }
    let head = get16(ram, vr.avail_ring(*last_avail))?;
    *last_avail = last_avail.wrapping_add(1);
    if head >= vr.num {
        return Err(VqError::new(format!("Guest says index {head} is available"), format!("the ring has only {} descriptors", vr.num)));
    }
    let mut chain = Chain { head, out: Vec::new(), inb: Vec::new() };
    let (mut table, mut max, mut i) = (vr.desc, vr.num as u32, head as u32);
    let first = read_desc_at(ram, table, i)?;
    if first.flags & VRING_DESC_F_INDIRECT != 0 {
        // The buffer is itself a table of descriptors, walked like the ring's own.
        if first.len % 16 != 0 {
            return Err(VqError::new(
                "Invalid size for indirect buffer table",
                format!("descriptor {head}'s table is {} bytes, not a multiple of 16", first.len),
            ));
        }
        let t = check_pointer(first.addr, first.len, guest_limit, CHECK_POINTER_INDIRECT_LINE)
            .map_err(|e| VqError { why: format!("the indirect table of descriptor {head}: {}", e.why), ..e })?;
        (table, max, i) = (t.addr, first.len / 16, 0);
    }
    loop {
        let d = read_desc_at(ram, table, i)?;
        let buf = check_pointer(d.addr, d.len, guest_limit, CHECK_POINTER_DESC_LINE).map_err(|e| VqError { why: format!("descriptor {i}: {}", e.why), ..e })?;
        if d.flags & VRING_DESC_F_WRITE != 0 {
            chain.inb.push(buf);
        } else {
            if !chain.inb.is_empty() {
                return Err(VqError::new("Descriptor has out after in", format!("descriptor {i} is one the device reads, after one it writes")));
            }
            chain.out.push(buf);
        }
        // More buffers than descriptors in the table can only mean the chain comes back on itself.
        let n = chain.out.len() + chain.inb.len();
        if n > max as usize {
            return Err(VqError::new("Looped descriptor", format!("the chain from head {head} is longer than the table's {max} entries")));
        }
        // An indirect table may be longer than the ring, but the Launcher gathers a chain into an array of
        // `num` iovecs (`iov[vq->vring.num]`): the real one would overrun it here (reading); we stop.
        if n > vr.num as usize {
            return Err(VqError::new(
                format!("indirect chain from head {head} has more than {} buffers", vr.num),
                "not a message of the real Launcher, which would write past its iov[] array here; the simulation stops instead",
            ));
        }
        if d.flags & VRING_DESC_F_NEXT == 0 {
            return Ok(Some(chain));
        }
        if d.next as u32 >= max {
            return Err(VqError::new(format!("Desc next is {}", d.next), format!("descriptor {i} chains to {}, but the table has {max} entries", d.next)));
        }
        i = d.next as u32;
    }
}

/// `add_used()`'s memory part: put {head, len} in the used ring and bump its index.
pub fn push_used(ram: &mut impl GuestMem, vr: &Vring, head: u16, len: u32) -> Result<u16, String> {
    let idx = get16(ram, vr.used_idx())?;
    let at = vr.used_elem(idx);
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&(head as u32).to_le_bytes());
    b[4..].copy_from_slice(&len.to_le_bytes());
    ram.write(at, &b).map_err(|_| format!("the used ring at {at:#x} is outside the Guest's memory"))?;
    put16(ram, vr.used_idx(), idx.wrapping_add(1))?;
    Ok(idx.wrapping_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: u32 = 64 * 4096;
    const RING: u32 = 32 * 4096;

    fn ram() -> GuestRam {
        GuestRam::new(64)
    }

    fn put_desc(ram: &mut GuestRam, vr: &Vring, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let mut b = Vec::new();
        b.extend_from_slice(&addr.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(&flags.to_le_bytes());
        b.extend_from_slice(&next.to_le_bytes());
        ram.write(vr.desc + 16 * i as u32, &b).unwrap();
    }

    fn offer(ram: &mut GuestRam, vr: &Vring, heads: &[u16]) {
        let idx = get16(ram, vr.avail_idx()).unwrap();
        for (k, h) in heads.iter().enumerate() {
            put16(ram, vr.avail_ring(idx.wrapping_add(k as u16)), *h).unwrap();
        }
        put16(ram, vr.avail_idx(), idx.wrapping_add(heads.len() as u16)).unwrap();
    }

    #[test]
    fn the_layout_is_the_standard_one() {
        let vr = Vring::new(256, 0x2001000);
        assert_eq!(vr.avail, 0x2002000);
        assert_eq!(vr.used, 0x2003000);
        assert_eq!(vring_size(256), 0x2000 + 6 + 8 * 256);
        let small = Vring::new(4, 0x1000);
        assert_eq!((small.avail, small.used), (0x1040, 0x2000));
    }

    #[test]
    fn a_two_part_chain_is_read_in_order() {
        let mut m = ram();
        let vr = Vring::new(8, RING);
        put_desc(&mut m, &vr, 3, 0x1000, 5, VRING_DESC_F_NEXT, 6);
        put_desc(&mut m, &vr, 6, 0x2000, 7, VRING_DESC_F_WRITE, 0);
        offer(&mut m, &vr, &[3]);
        let mut last = 0;
        let c = next_chain(&m, &vr, &mut last, LIMIT).unwrap().unwrap();
        assert_eq!(c, Chain { head: 3, out: vec![Buf { addr: 0x1000, len: 5 }], inb: vec![Buf { addr: 0x2000, len: 7 }] });
        assert_eq!(last, 1);
        assert_eq!(next_chain(&m, &vr, &mut last, LIMIT).unwrap(), None);
        assert_eq!(push_used(&mut m, &vr, 3, 7).unwrap(), 1);
        assert_eq!(m.read_u32(vr.used_elem(0)).unwrap(), 3);
        assert_eq!(m.read_u32(vr.used_elem(0) + 4).unwrap(), 7);
    }

    #[test]
    fn an_indirect_table_is_walked_like_the_ring() {
        let mut m = ram();
        let vr = Vring::new(8, RING);
        let t = Vring { num: 2, desc: 0x3000, avail: 0, used: 0 };
        put_desc(&mut m, &t, 0, 0x1000, 4, VRING_DESC_F_NEXT, 1);
        put_desc(&mut m, &t, 1, 0x2000, 8, VRING_DESC_F_WRITE, 0);
        put_desc(&mut m, &vr, 5, 0x3000, 32, VRING_DESC_F_INDIRECT, 0);
        offer(&mut m, &vr, &[5]);
        let mut last = 0;
        let c = next_chain(&m, &vr, &mut last, LIMIT).unwrap().unwrap();
        assert_eq!(c, Chain { head: 5, out: vec![Buf { addr: 0x1000, len: 4 }], inb: vec![Buf { addr: 0x2000, len: 8 }] });
        // A zero-length buffer right at the limit is allowed, as check_pointer() allows it.
        assert!(check_pointer(LIMIT as u64, 0, LIMIT, CHECK_POINTER_DESC_LINE).is_ok());
        // The real text, with the line of the call; zero prints as glibc's %#lx prints it.
        assert_eq!(check_pointer(LIMIT as u64, 1, LIMIT, CHECK_POINTER_DESC_LINE).unwrap_err().text, "lguest.c:738: Invalid address 0x40000");
        assert_eq!(check_pointer(0, u32::MAX, LIMIT, CHECK_POINTER_INDIRECT_LINE).unwrap_err().text, "lguest.c:730: Invalid address 0");
    }

    #[test]
    fn hostile_rings_are_refused_with_a_reason() {
        type Setup = Box<dyn Fn(&mut GuestRam, &Vring)>;
        let cases: Vec<(&str, Setup)> = vec![
            (
                "Looped descriptor",
                Box::new(|m, vr| {
                    put_desc(m, vr, 0, 0x1000, 1, VRING_DESC_F_NEXT, 1);
                    put_desc(m, vr, 1, 0x1000, 1, VRING_DESC_F_NEXT, 0);
                    offer(m, vr, &[0]);
                }),
            ),
            (
                "Looped descriptor",
                Box::new(|m, vr| {
                    put_desc(m, vr, 2, 0x1000, 1, VRING_DESC_F_NEXT, 2);
                    offer(m, vr, &[2]);
                }),
            ),
            (
                "lguest.c:738: Invalid address 0x40000",
                Box::new(|m, vr| {
                    put_desc(m, vr, 0, LIMIT as u64, 1, 0, 0);
                    offer(m, vr, &[0]);
                }),
            ),
            (
                "lguest.c:738: Invalid address 0x40000: descriptor 0: the buffer at 0x40000, 0x1 bytes long, does not lie inside the Guest's memory (0x40000 bytes) (the descriptor said 0x100040000",
                Box::new(|m, vr| {
                    put_desc(m, vr, 0, (1 << 32) | LIMIT as u64, 1, 0, 0);
                    offer(m, vr, &[0]);
                }),
            ),
            (
                "lguest.c:738: Invalid address 0x1000",
                Box::new(|m, vr| {
                    put_desc(m, vr, 0, 0x1000, u32::MAX, 0, 0);
                    offer(m, vr, &[0]);
                }),
            ),
            ("Guest says index 9 is available", Box::new(|m, vr| offer(m, vr, &[9]))),
            (
                "Desc next is 200",
                Box::new(|m, vr| {
                    put_desc(m, vr, 0, 0x1000, 1, VRING_DESC_F_NEXT, 200);
                    offer(m, vr, &[0]);
                }),
            ),
            ("Guest moved used index from 0 to 100", Box::new(|m, vr| put16(m, vr.avail_idx(), 100).unwrap())),
            (
                "out after in",
                Box::new(|m, vr| {
                    put_desc(m, vr, 0, 0x1000, 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
                    put_desc(m, vr, 1, 0x1000, 1, 0, 0);
                    offer(m, vr, &[0]);
                }),
            ),
            (
                "Invalid size for indirect buffer table",
                Box::new(|m, vr| {
                    put_desc(m, vr, 0, 0x1000, 15, VRING_DESC_F_INDIRECT, 0);
                    offer(m, vr, &[0]);
                }),
            ),
            (
                "lguest.c:730: Invalid address 0x3fff0",
                Box::new(|m, vr| {
                    put_desc(m, vr, 0, LIMIT as u64 - 16, 32, VRING_DESC_F_INDIRECT, 0);
                    offer(m, vr, &[0]);
                }),
            ),
            (
                "more than 8 buffers",
                Box::new(|m, _| {
                    // An indirect table of 16 chained descriptors: longer than the ring's 8.
                    let t = Vring { num: 16, desc: 0x3000, avail: 0, used: 0 };
                    for i in 0..16 {
                        put_desc(m, &t, i, 0x1000, 1, if i < 15 { VRING_DESC_F_NEXT } else { 0 }, i + 1);
                    }
                    let vr = Vring::new(8, RING);
                    put_desc(m, &vr, 0, 0x3000, 256, VRING_DESC_F_INDIRECT, 0);
                    offer(m, &vr, &[0]);
                }),
            ),
            (
                "Looped descriptor: the chain from head 0 is longer than the table's 2 entries",
                Box::new(|m, _| {
                    // An indirect table of two descriptors at 0x3000 that point at each other.
                    let t = Vring { num: 2, desc: 0x3000, avail: 0, used: 0 };
                    put_desc(m, &t, 0, 0x1000, 1, VRING_DESC_F_NEXT, 1);
                    put_desc(m, &t, 1, 0x1000, 1, VRING_DESC_F_NEXT, 0);
                    let vr = Vring::new(8, RING);
                    put_desc(m, &vr, 0, 0x3000, 32, VRING_DESC_F_INDIRECT, 0);
                    offer(m, &vr, &[0]);
                }),
            ),
        ];
        for (want, setup) in cases {
            let mut m = ram();
            let vr = Vring::new(8, RING);
            setup(&mut m, &vr);
            let mut last = 0;
            let e = next_chain(&m, &vr, &mut last, LIMIT).unwrap_err();
            let both = format!("{}: {}", e.text, e.why);
            assert!(both.contains(want), "{want:?} not in {both:?}");
        }
    }

    #[test]
    fn random_rings_never_panic() {
        let mut x: u32 = 0x9e37_79b9;
        for _ in 0..3000 {
            let mut m = ram();
            let vr = Vring::new(8, RING);
            for _ in 0..24 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let off = x % (vring_size(8) + 64);
                m.write(RING + off, &[(x >> 24) as u8]).unwrap();
            }
            let mut last = (x >> 7) as u16;
            for _ in 0..4 {
                let _ = next_chain(&m, &vr, &mut last, LIMIT);
            }
            let _ = push_used(&mut m, &vr, 0, 0);
            // A ring placed at the very top of memory: reads beyond it fail as errors, not panics.
            let top = Vring::new(256, LIMIT - 4096);
            let _ = next_chain(&m, &top, &mut last, LIMIT);
            let _ = push_used(&mut m, &top, 1, 1);
        }
    }
}
