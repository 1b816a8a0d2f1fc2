//! A stable insertion sort for the short lists the page sorts (an instruction's prefixes, a program's errors
//! by line, a lesson line's expected findings). The standard library's stable sort is a few kilobytes of wasm
//! for each element type it is used with, and these lists hold a handful of items; a program's address map,
//! the one long list, is nearly sorted already, which is insertion sort's best case.

/// Sort `v` by `key`, keeping equal items in their order.
pub fn sort_by_key<T, K: Ord>(v: &mut [T], mut key: impl FnMut(&T) -> K) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && key(&v[j - 1]) > key(&v[j]) {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Sort `v` by its own order, keeping equal items in their order.
pub fn sort<T: Ord>(v: &mut [T]) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && v[j - 1] > v[j] {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sorts_stably() {
        let mut v = vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e')];
        super::sort_by_key(&mut v, |x| x.0);
        assert_eq!(v, [(1, 'b'), (1, 'e'), (2, 'd'), (3, 'a'), (3, 'c')]);
        let mut w = vec![5, 3, 9, 1, 3];
        super::sort(&mut w);
        assert_eq!(w, [1, 3, 3, 5, 9]);
        let mut e: Vec<u8> = Vec::new();
        super::sort(&mut e);
        assert!(e.is_empty());
    }
}
