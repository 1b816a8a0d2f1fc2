//! A Launcher's address space: the mappings user pointers are checked against.
//!
//! `copy_from_user()`, `get_user()`, `put_user()` and `copy_to_user()` in the Host all come down to
//! [`Mm::read`] and [`Mm::write`]: an address no mapping covers is a fault, which the Host turns into
//! `-EFAULT`. The Guest's memory is one of the mappings; the others hold the Launcher's own data.

use serde::Serialize;

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
    /// The Guest's memory (stored once, in the process's `ram`).
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

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mm {
    pub regions: Vec<Region>,
}

impl Mm {
    pub fn map_anon(&mut self, start: u32, len: u32, what: &str) {
        self.regions.push(Region {
            start,
            len,
            what: what.to_string(),
            writable: true,
            backing: Backing::Anon(vec![0; len as usize]),
        });
    }

    pub fn map_guest(&mut self, start: u32, len: u32) {
        self.regions.push(Region {
            start,
            len,
            what: "Guest memory (/dev/zero mapping)".to_string(),
            writable: true,
            backing: Backing::GuestRam,
        });
    }

    pub fn is_mapped(&self, addr: u32) -> bool {
        self.regions.iter().any(|r| r.contains(addr))
    }

    /// Copy bytes from user space; the whole range must be mapped. `ram` backs the Guest mapping.
    pub fn read(&self, ram: &GuestRam, addr: u32, buf: &mut [u8]) -> Result<(), UserFault> {
        for (i, b) in buf.iter_mut().enumerate() {
            let a = addr.checked_add(i as u32).ok_or(UserFault { addr: u32::MAX })?;
            let r = self.regions.iter().find(|r| r.contains(a)).ok_or(UserFault { addr: a })?;
            *b = match &r.backing {
                Backing::Anon(v) => v[(a - r.start) as usize],
                Backing::GuestRam => {
                    let mut one = [0u8; 1];
                    ram.read(a - r.start, &mut one).map_err(|_| UserFault { addr: a })?;
                    one[0]
                }
            };
        }
        Ok(())
    }

    /// Copy bytes to user space. Like the kernel's `copy_to_user()`, bytes before the faulting address are
    /// written; the caller sees only that it failed.
    pub fn write(&mut self, ram: &mut GuestRam, addr: u32, data: &[u8]) -> Result<(), UserFault> {
        for (i, b) in data.iter().enumerate() {
            let a = addr.checked_add(i as u32).ok_or(UserFault { addr: u32::MAX })?;
            let r = self.regions.iter_mut().find(|r| r.contains(a) && r.writable).ok_or(UserFault { addr: a })?;
            match &mut r.backing {
                Backing::Anon(v) => v[(a - r.start) as usize] = *b,
                Backing::GuestRam => ram.write(a - r.start, &[*b]).map_err(|_| UserFault { addr: a })?,
            }
        }
        Ok(())
    }

    pub fn read_u32(&self, ram: &GuestRam, addr: u32) -> Result<u32, UserFault> {
        let mut b = [0u8; 4];
        self.read(ram, addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmapped_addresses_fault_at_the_first_bad_byte() {
        let mut mm = Mm::default();
        let mut ram = GuestRam::new(1);
        mm.map_anon(0x1000, 0x1000, "scratch");
        mm.map_guest(0x4000_0000, 0x1000);
        assert!(mm.write(&mut ram, 0x1ffe, &[1, 2]).is_ok());
        assert_eq!(mm.write(&mut ram, 0x1ffe, &[1, 2, 3]), Err(UserFault { addr: 0x2000 }));
        assert_eq!(mm.read_u32(&ram, 0x1ffc).unwrap(), 0x0201_0000);
        mm.write(&mut ram, 0x4000_0010, &[9]).unwrap();
        assert_eq!(ram.read_cstr(0x10, 4).unwrap(), vec![9]);
        assert_eq!(mm.read_u32(&ram, 0xffff_fffe), Err(UserFault { addr: 0xffff_fffe }));
    }
}
