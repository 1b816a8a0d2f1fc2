//! Loading a Guest kernel image the way the Launcher's `map_elf()` does: a statically linked ELF32 i386
//! executable whose `PT_LOAD` segments are copied to their physical addresses (`p_paddr`) in Guest memory,
//! with the bytes beyond `p_filesz` up to `p_memsz` left zero (the memory came from `/dev/zero`). The
//! entry point is `e_entry`.
//!
//! The real Launcher only says "Malformed elf header" or dies on a bad `mmap`; a teaching tool says what is
//! wrong and where, so every check here has its own message, and no input can make it panic.

use super::GuestMem;
#[cfg(test)]
use crate::guest_ram::GuestRam;

/// A Guest image ready to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedImage {
    pub entry: u32,
    /// (physical address, memory size) of each loaded segment.
    pub segments: Vec<(u32, u32)>,
}

const PT_LOAD: u32 = 1;
const ET_EXEC: u16 = 2;
const EM_386: u16 = 3;
const PF_X: u32 = 1;

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

/// Check `file` and copy its segments into `ram`, whose first `mem_limit` bytes are the Guest's RAM.
pub fn load_elf(file: &[u8], ram: &mut impl GuestMem, mem_limit: u32) -> Result<LoadedImage, String> {
    if !file.starts_with(b"\x7fELF") {
        return Err("not an ELF file: it does not start with 0x7f 'E' 'L' 'F'".into());
    }
    if file.len() < 52 {
        return Err(format!("the file is {} bytes: too short for an ELF header (52 bytes)", file.len()));
    }
    if file[4] != 1 {
        return Err(format!("ELF class {} is not ELFCLASS32: an lguest Guest is a 32-bit i386 kernel", file[4]));
    }
    if file[5] != 1 {
        return Err("the ELF file is big-endian; i386 is little-endian".into());
    }
    let e_type = u16_at(file, 16).unwrap_or(0);
    let e_machine = u16_at(file, 18).unwrap_or(0);
    let e_entry = u32_at(file, 24).unwrap_or(0);
    let e_phoff = u32_at(file, 28).unwrap_or(0) as usize;
    let e_phentsize = u16_at(file, 42).unwrap_or(0) as usize;
    let e_phnum = u16_at(file, 44).unwrap_or(0) as usize;
    if e_machine != EM_386 {
        return Err(format!("e_machine is {e_machine}, not EM_386 (3): this is not an i386 program"));
    }
    if e_type != ET_EXEC {
        return Err(format!("e_type is {e_type}, not ET_EXEC (2): link the Guest into a static executable (ld -m elf_i386)"));
    }
    if e_phentsize != 32 {
        return Err(format!("e_phentsize is {e_phentsize}, not sizeof(Elf32_Phdr) = 32"));
    }
    if e_phnum == 0 {
        return Err("the ELF file has no program headers, so nothing to load".into());
    }
    let table_end = e_phoff.checked_add(e_phnum * 32).ok_or("the program header table's offset overflows")?;
    if table_end > file.len() {
        return Err(format!("truncated: the program header table ends at byte {table_end}, the file has {}", file.len()));
    }
    let mut segs: Vec<(usize, u32, u32, u32, u32, u32)> = Vec::new();
    for i in 0..e_phnum {
        let ph = e_phoff + i * 32;
        let p_type = u32_at(file, ph).unwrap_or(0);
        if p_type != PT_LOAD {
            continue;
        }
        let p_offset = u32_at(file, ph + 4).unwrap_or(0);
        let p_paddr = u32_at(file, ph + 12).unwrap_or(0);
        let p_filesz = u32_at(file, ph + 16).unwrap_or(0);
        let p_memsz = u32_at(file, ph + 20).unwrap_or(0);
        let p_flags = u32_at(file, ph + 24).unwrap_or(0);
        if p_filesz > p_memsz {
            return Err(format!("segment {i}: p_filesz {p_filesz:#x} is larger than p_memsz {p_memsz:#x}"));
        }
        let file_end = p_offset as u64 + p_filesz as u64;
        if file_end > file.len() as u64 {
            return Err(format!("segment {i}: its bytes [{p_offset:#x}, {file_end:#x}) run past the end of the {}-byte file (truncated?)", file.len()));
        }
        let mem_end = p_paddr as u64 + p_memsz as u64;
        if mem_end > mem_limit as u64 {
            return Err(format!("segment {i}: [{p_paddr:#x}, {mem_end:#x}) is beyond the Guest's memory ({mem_limit:#x} bytes)"));
        }
        for (j, _, other_paddr, _, other_memsz, _) in &segs {
            let (a0, a1) = (p_paddr as u64, mem_end);
            let (b0, b1) = (*other_paddr as u64, *other_paddr as u64 + *other_memsz as u64);
            if a0 < b1 && b0 < a1 && p_memsz > 0 && *other_memsz > 0 {
                return Err(format!("segments {j} and {i} overlap at physical [{:#x}, {:#x})", a0.max(b0), a1.min(b1)));
            }
        }
        segs.push((i, p_offset, p_paddr, p_filesz, p_memsz, p_flags));
    }
    if segs.is_empty() {
        return Err("the ELF file has no PT_LOAD segment: nothing to put in Guest memory".into());
    }
    let in_exec = segs.iter().any(|(_, _, pa, _, ms, fl)| fl & PF_X != 0 && e_entry >= *pa && (e_entry as u64) < *pa as u64 + *ms as u64);
    if e_entry as u64 >= mem_limit as u64 {
        return Err(format!("the entry point {e_entry:#x} is outside the Guest's memory ({mem_limit:#x} bytes)"));
    }
    if !in_exec {
        return Err(format!("the entry point {e_entry:#x} is not inside any executable (PF_X) segment"));
    }
    for (_, off, pa, fs, _, _) in &segs {
        let bytes = &file[*off as usize..(*off as usize + *fs as usize)];
        ram.write(*pa, bytes).map_err(|_| format!("could not write Guest memory at {pa:#x}"))?;
    }
    Ok(LoadedImage { entry: e_entry, segments: segs.iter().map(|s| (s.2, s.4)).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF32 executable: one PT_LOAD at 0x100000 holding `code`, entry at its start.
    pub fn tiny_elf(code: &[u8], paddr: u32, memsz: u32, flags: u32) -> Vec<u8> {
        let mut f = vec![0u8; 84];
        f[0..4].copy_from_slice(b"\x7fELF");
        f[4] = 1;
        f[5] = 1;
        f[6] = 1;
        f[16..18].copy_from_slice(&ET_EXEC.to_le_bytes());
        f[18..20].copy_from_slice(&EM_386.to_le_bytes());
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[24..28].copy_from_slice(&paddr.to_le_bytes());
        f[28..32].copy_from_slice(&52u32.to_le_bytes());
        f[40..42].copy_from_slice(&52u16.to_le_bytes());
        f[42..44].copy_from_slice(&32u16.to_le_bytes());
        f[44..46].copy_from_slice(&1u16.to_le_bytes());
        let ph = 52;
        f[ph..ph + 4].copy_from_slice(&PT_LOAD.to_le_bytes());
        f[ph + 4..ph + 8].copy_from_slice(&84u32.to_le_bytes());
        f[ph + 8..ph + 12].copy_from_slice(&paddr.to_le_bytes());
        f[ph + 12..ph + 16].copy_from_slice(&paddr.to_le_bytes());
        f[ph + 16..ph + 20].copy_from_slice(&(code.len() as u32).to_le_bytes());
        f[ph + 20..ph + 24].copy_from_slice(&memsz.to_le_bytes());
        f[ph + 24..ph + 28].copy_from_slice(&flags.to_le_bytes());
        f.extend_from_slice(code);
        f
    }

    #[test]
    fn loads_segments_at_their_physical_address() {
        let mut ram = GuestRam::new(512);
        let img = load_elf(&tiny_elf(&[0x90, 0xf4], 0x100000, 0x2000, 5), &mut ram, 512 * 4096).unwrap();
        assert_eq!(img.entry, 0x100000);
        assert_eq!(ram.read_u32(0x100000).unwrap() & 0xffff, 0xf490);
    }

    #[test]
    fn bad_images_say_what_is_wrong() {
        let mut ram = GuestRam::new(512);
        let lim = 512 * 4096;
        let good = tiny_elf(&[0x90], 0x100000, 0x10, 5);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![1, 2, 3], "not an ELF file"),
            (good[..30].to_vec(), "too short"),
            (
                {
                    let mut f = good.clone();
                    f[0] = 0;
                    f
                },
                "not an ELF file",
            ),
            (
                {
                    let mut f = good.clone();
                    f[4] = 2;
                    f
                },
                "not ELFCLASS32",
            ),
            (
                {
                    let mut f = good.clone();
                    f[18] = 62;
                    f
                },
                "not EM_386",
            ),
            (
                {
                    let mut f = good.clone();
                    f[16] = 1;
                    f
                },
                "not ET_EXEC",
            ),
            (good[..70].to_vec(), "truncated"),
            (good[..84].to_vec(), "run past the end"),
            (tiny_elf(&[0x90], 0x1ff000, 0x2000, 5), "beyond the Guest's memory"),
            (tiny_elf(&[0x90], 0x100000, 0x10, 4), "not inside any executable"),
            (
                {
                    let mut f = good.clone();
                    f[52 + 20..52 + 24].copy_from_slice(&0u32.to_le_bytes());
                    f
                },
                "larger than p_memsz",
            ),
        ];
        for (img, want) in cases {
            let e = load_elf(&img, &mut ram, lim).unwrap_err();
            assert!(e.contains(want), "{want:?} not in {e:?}");
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut ram = GuestRam::new(16);
        let mut x: u32 = 12345;
        let base = tiny_elf(&[0x90; 8], 0x1000, 0x10, 5);
        for _ in 0..5000 {
            let mut f = base.clone();
            for _ in 0..4 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let i = (x as usize) % f.len();
                f[i] = (x >> 8) as u8;
            }
            let _ = load_elf(&f, &mut ram, 16 * 4096);
        }
    }
}
