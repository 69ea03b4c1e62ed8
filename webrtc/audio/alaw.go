package audio

// G.711 A-law (ITU-T G.711 section 3), for SIP trunks that offer PCMA only. Legs inside the
// server speak µ-law; an A-law leg translates each byte through a 256-entry table on the way in
// and on the way out (no cgo, no per-packet allocation, no linear detour).

// ALawSilence is the A-law code of a zero sample.
const ALawSilence byte = 0xD5

// alawDecode is the A-law decode table, built once at init.
var alawDecode = func() (t [256]int16) {
	for i := range t {
		a := byte(i) ^ 0x55
		exp := (a >> 4) & 0x07
		mant := int32(a & 0x0F)
		var v int32
		if exp == 0 {
			v = mant<<4 + 8
		} else {
			v = (mant<<4 + 0x108) << (exp - 1)
		}
		if a&0x80 == 0 {
			v = -v
		}
		t[i] = int16(v)
	}
	return t
}()

// ALawEncodeSample converts one linear 16-bit sample to A-law.
func ALawEncodeSample(s int16) byte {
	v := int32(s)
	sign := byte(0x80)
	if v < 0 {
		v = -v - 1
		sign = 0
	}
	v = min(v, 32767) >> 3 // 13-bit magnitude
	var code byte
	if v < 32 {
		code = byte(v >> 1)
	} else {
		exp := byte(1)
		for m := v >> 5; m > 1; m >>= 1 {
			exp++
		}
		code = exp<<4 | byte(v>>exp)&0x0F
	}
	return (sign | code) ^ 0x55
}

// ALawDecodeSample converts one A-law code to a linear 16-bit sample.
func ALawDecodeSample(a byte) int16 { return alawDecode[a] }

// ulawToALaw and alawToULaw translate codes directly (through the linear value).
var ulawToALaw, alawToULaw = func() (u2a, a2u [256]byte) {
	for i := range 256 {
		u2a[i] = ALawEncodeSample(ulawDecode[i])
		a2u[i] = EncodeSample(alawDecode[i])
	}
	return u2a, a2u
}()

// ULawToALaw translates µ-law src into A-law dst (len(dst) >= len(src)) and returns
// dst[:len(src)]. dst may be src.
func ULawToALaw(dst, src []byte) []byte {
	dst = dst[:len(src)]
	for i, u := range src {
		dst[i] = ulawToALaw[u]
	}
	return dst
}

// ALawToULaw translates A-law src into µ-law dst (len(dst) >= len(src)) and returns
// dst[:len(src)]. dst may be src.
func ALawToULaw(dst, src []byte) []byte {
	dst = dst[:len(src)]
	for i, a := range src {
		dst[i] = alawToULaw[a]
	}
	return dst
}
