//! An address space (`struct mm_struct`): the mappings user pointers are checked against.
//!
//! `get_user()`, `copy_from_user()` and `copy_to_user()` (the kernel's `uaccess`, methods of
//! [`super::Kernel`]) all come down to [`Mm::read`] and [`Mm::write`]: an address no mapping covers is a
//! fault, which the caller turns into `-EFAULT`. The Launcher's address space has its own data pages and one
//! mapping of zeroed pages (its `mmap()` of `/dev/zero`) that becomes the Guest's memory: those pages are
//! [`GuestPages`], which the lguest driver hands to the Guest CPU as they are (the real Host finds them with
//! `get_user_pages()`).

use std::collections::VecDeque;

use serde::Serialize;

use crate::cpu::script::ScriptAction;
use crate::guest_ram::GuestRam;

/// A user access that touched an unmapped (or read-only) address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserFault {
    pub addr: u32,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Backing {
    /// Ordinary anonymous memory owned by the mapping.
    Anon(#[serde(skip)] Vec<u8>),
    /// The Guest's memory (stored once, in [`Mm::guest`]).
    GuestRam,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Region {
    pub start: u32,
    pub len: u32,
    pub what: String,
    pub writable: bool,
    pub backing: Backing,
}

impl Region {
    fn contains(&self, addr: u32) -> bool {
        addr >= self.start && (addr - self.start) < self.len
    }
}

/// The pages behind the Guest mapping, and what the simulation knows they hold: the Guest's real code (the
/// x86 core runs it) or, for lessons about the Host's side, the next moves of a *scripted* Guest that a
/// scenario dictates ([`crate::cpu::script`]).
#[derive(Clone, Debug)]
pub struct GuestPages {
    pub ram: GuestRam,
    /// True once a Guest program was loaded into `ram`: `initialize()` then runs it on the x86 core.
    pub has_code: bool,
    /// The scripted Guest's next actions.
    pub script: VecDeque<ScriptAction>,
    /// The scripted Guest's `async_hcall()` static `next_call`: the ring slot it fills next.
    pub next_call: u32,
}

impl Default for GuestPages {
    fn default() -> GuestPages {
        GuestPages { ram: GuestRam::new(0), has_code: false, script: VecDeque::new(), next_call: 0 }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Mm {
    pub regions: Vec<Region>,
    pub guest: GuestPages,
}

/// What `mmap()` maps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "kind")]
pub enum MapKind {
    /// Anonymous memory for the program's own data, described for the page (`"Launcher data"`).
    Data { what: String },
    /// `mmap()` of `/dev/zero`: zeroed pages a Guest will live in (only one such mapping per process).
    GuestMemory,
}

impl Mm {
    pub fn map_anon(&mut self, start: u32, len: u32, what: &str) {
        self.regions.push(Region { start, len, what: what.to_string(), writable: true, backing: Backing::Anon(vec![0; len as usize]) });
    }

    /// The Guest's memory: `len` bytes of zeroed pages at `start`.
    pub fn map_guest(&mut self, start: u32, len: u32) {
        self.guest.ram = GuestRam::new(len / crate::params::PAGE_SIZE);
        self.regions.push(Region { start, len, what: "Guest memory (/dev/zero mapping)".to_string(), writable: true, backing: Backing::GuestRam });
    }

    pub fn is_mapped(&self, addr: u32) -> bool {
        self.regions.iter().any(|r| r.contains(addr))
    }

    /// Copy bytes from user space; the whole range must be mapped.
    pub fn read(&self, addr: u32, buf: &mut [u8]) -> Result<(), UserFault> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr.checked_add(done as u32).ok_or(UserFault { addr: u32::MAX })?;
            let r = self.regions.iter().find(|r| r.contains(a)).ok_or(UserFault { addr: a })?;
            let off = a - r.start;
            let n = ((r.len - off) as usize).min(buf.len() - done);
            let part = &mut buf[done..done + n];
            match &r.backing {
                Backing::Anon(v) => part.copy_from_slice(&v[off as usize..off as usize + n]),
                Backing::GuestRam => self.guest.ram.read(off, part).map_err(|e| UserFault { addr: r.start.wrapping_add(e.addr) })?,
            }
            done += n;
        }
        Ok(())
    }

    /// Copy bytes to user space. Like the kernel's `copy_to_user()`, bytes before the faulting address are
    /// written; the caller sees only that it failed.
    pub fn write(&mut self, addr: u32, data: &[u8]) -> Result<(), UserFault> {
        let mut done = 0usize;
        while done < data.len() {
            let a = addr.checked_add(done as u32).ok_or(UserFault { addr: u32::MAX })?;
            let Mm { regions, guest } = self;
            let r = regions.iter_mut().find(|r| r.contains(a) && r.writable).ok_or(UserFault { addr: a })?;
            let off = a - r.start;
            let n = ((r.len - off) as usize).min(data.len() - done);
            let part = &data[done..done + n];
            match &mut r.backing {
                Backing::Anon(v) => v[off as usize..off as usize + n].copy_from_slice(part),
                Backing::GuestRam => {
                    let start = r.start;
                    guest.ram.write(off, part).map_err(|e| UserFault { addr: start.wrapping_add(e.addr) })?
                }
            }
            done += n;
        }
        Ok(())
    }

    pub fn read_u32(&self, addr: u32) -> Result<u32, UserFault> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmapped_addresses_fault_at_the_first_bad_byte() {
        let mut mm = Mm::default();
        mm.map_anon(0x1000, 0x1000, "scratch");
        mm.map_guest(0x4000_0000, 0x1000);
        assert!(mm.write(0x1ffe, &[1, 2]).is_ok());
        assert_eq!(mm.write(0x1ffe, &[1, 2, 3]), Err(UserFault { addr: 0x2000 }));
        assert_eq!(mm.read_u32(0x1ffc).unwrap(), 0x0201_0000);
        mm.write(0x4000_0010, &[9]).unwrap();
        assert_eq!(mm.guest.ram.read_cstr(0x10, 4).unwrap(), vec![9]);
        assert_eq!(mm.read_u32(0xffff_fffe), Err(UserFault { addr: 0xffff_fffe }));
        // A copy that runs off the end of the Guest mapping faults where it leaves it.
        assert_eq!(mm.write(0x4000_0ffe, &[1, 2, 3]), Err(UserFault { addr: 0x4000_1000 }));
        assert_eq!(mm.guest.ram.read_u32(0xffc).unwrap() >> 16, 0x0201);
    }
}
