package limiter

import "strings"

// hashSlot is the Redis Cluster slot of key: CRC16 (XMODEM) of its hash tag,
// the part between the first "{" and the next "}" when that is not empty,
// or of the whole key, modulo 16384. The flusher groups renewals by it, since
// one script may only touch keys of one slot.
func hashSlot(key string) uint16 {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		if n := strings.IndexByte(key[open+1:], '}'); n > 0 {
			key = key[open+1 : open+1+n]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc & 16383
}
