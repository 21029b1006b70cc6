//! LEB128 unsigned varints (7 bits per byte, low bits first, high bit = more bytes).
//!
//! The decoder accepts only the shortest encoding and at most 10 bytes, so every value
//! has exactly one byte form.

/// Largest encoded length of a u64.
pub(crate) const MAX_LEN: usize = 10;

/// Appends the varint encoding of `v` to `out`.
pub(crate) fn encode(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Encodes `v` into a fixed buffer, returning the buffer and the used length.
pub(crate) fn encode_array(mut v: u64) -> ([u8; MAX_LEN], usize) {
    let mut buf = [0u8; MAX_LEN];
    let mut n = 0;
    while v >= 0x80 {
        buf[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    buf[n] = v as u8;
    (buf, n + 1)
}

/// Decodes a varint at `buf[pos..]`. Returns the value and the position after it, or
/// `None` if it runs past the end, is longer than 10 bytes, overflows u64 or is not
/// the shortest encoding.
#[inline(always)]
pub(crate) fn decode(buf: &[u8], pos: usize) -> Option<(u64, usize)> {
    let first = *buf.get(pos)?;
    if first < 0x80 {
        return Some((u64::from(first), pos + 1));
    }
    // Two bytes (128..16383) is the common length of a value: keep it off the slow path.
    let second = *buf.get(pos + 1)?;
    if second < 0x80 {
        if second == 0 {
            return None; // not the shortest form
        }
        return Some((u64::from(first & 0x7F) | u64::from(second) << 7, pos + 2));
    }
    decode_slow(buf, pos)
}

#[inline(never)]
fn decode_slow(buf: &[u8], pos: usize) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for i in 0..MAX_LEN {
        let b = *buf.get(pos.checked_add(i)?)?;
        let bits = u64::from(b & 0x7F);
        if i == MAX_LEN - 1 && bits > 1 {
            return None; // would overflow u64
        }
        v |= bits << (7 * i);
        if b < 0x80 {
            if i > 0 && b == 0 {
                return None; // not the shortest form
            }
            return Some((v, pos + i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_edges() {
        for v in [
            0u64,
            1,
            127,
            128,
            255,
            16_383,
            16_384,
            65_536,
            u32::MAX as u64,
            u64::MAX,
        ] {
            let mut out = vec![9u8];
            encode(v, &mut out);
            let (arr, n) = encode_array(v);
            assert_eq!(&out[1..], &arr[..n]);
            assert_eq!(decode(&out, 1), Some((v, out.len())));
        }
    }

    #[test]
    fn rejects_bad_encodings() {
        assert_eq!(decode(&[], 0), None);
        assert_eq!(decode(&[0x80], 0), None); // runs off the end
        assert_eq!(decode(&[0x80, 0x00], 0), None); // overlong zero
        assert_eq!(decode(&[0xFF; 11], 0), None); // too long
        let mut max = vec![0xFF; 9];
        max.push(0x02); // bit 64 set
        assert_eq!(decode(&max, 0), None);
        max[9] = 0x01;
        assert_eq!(decode(&max, 0), Some((u64::MAX, 10)));
    }
}
