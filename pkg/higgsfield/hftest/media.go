package hftest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"image"
	"image/png"
	"slices"
	"strconv"
	"strings"
)

// videoPrefixes mark model ids whose output is a video, besides any id that
// contains "video".
var videoPrefixes = []string{
	"kling", "seedance", "bytedance/seedance", "veo", "sora", "wan",
	"minimax", "hailuo", "higgsfield-ai/dop",
}

func isVideo(model string) bool {
	m := strings.ToLower(model)
	return strings.Contains(m, "video") ||
		slices.ContainsFunc(videoPrefixes, func(p string) bool { return strings.HasPrefix(m, p) })
}

// render makes the output files of a completed job, deterministically from
// its id, the output index and the prompt: one MP4 for a video model, else
// num_images (or batch_size) PNGs of w×h, 1 to 4 of them.
func render(id, model string, body map[string]any, w, h int) []file {
	prompt, _ := body["prompt"].(string)
	if isVideo(model) {
		return []file{{name: "0.mp4", contentType: "video/mp4", data: makeMP4(seed(id, 0, prompt))}}
	}
	n := 1
	for _, k := range []string{"num_images", "batch_size"} {
		if v, ok := intField(body[k]); ok {
			n = v
			break
		}
	}
	files := make([]file, min(max(n, 1), 4))
	for i := range files {
		files[i] = file{name: fmt.Sprintf("%d.png", i), contentType: "image/png", data: makePNG(w, h, seed(id, i, prompt))}
	}
	return files
}

func intField(v any) (int, bool) {
	switch v := v.(type) {
	case float64:
		return int(v), true
	case string:
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	return 0, false
}

func seed(id string, i int, prompt string) uint64 {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s|%d|%s", id, i, prompt))
	return binary.BigEndian.Uint64(sum[:8])
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// rng is splitmix64: fast, deterministic noise.
type rng uint64

func (r *rng) next() uint64 {
	*r += 0x9e3779b97f4a7c15
	z := uint64(*r)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// makePNG draws a diagonal gradient between two seeded colours, a checker
// pattern and per-pixel noise. It is stored uncompressed (deflate is the
// slow part, noise would defeat it anyway), so its size is predictable:
// about 3 bytes a pixel.
func makePNG(w, h int, sd uint64) []byte {
	r := rng(sd)
	from, to := r.next(), r.next()
	cell := max(8, min(w, h)/8)
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			t := (x + y) * 255 / max(w+h-2, 1)
			noise := r.next()
			off := img.PixOffset(x, y)
			for c := range 3 {
				a, b := int(byte(from>>(8*c))), int(byte(to>>(8*c)))
				v := (a*(255-t) + b*t) / 255
				if (x/cell+y/cell)%2 == 0 {
					v = v * 3 / 4
				}
				v += int(byte(noise>>(8*c)))%33 - 16
				img.Pix[off+c] = uint8(min(max(v, 0), 255))
			}
			img.Pix[off+3] = 255
		}
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.NoCompression}).Encode(&buf, img); err != nil {
		panic(fmt.Sprintf("hftest: encoding PNG: %v", err)) // cannot happen with a bytes.Buffer
	}
	return buf.Bytes()
}

// makeMP4 returns a minimal ISO-BMFF file: an ftyp box and 96 KiB of seeded
// bytes in an mdat box.
func makeMP4(sd uint64) []byte {
	r := rng(sd)
	box := func(out []byte, typ string, body []byte) []byte {
		out = binary.BigEndian.AppendUint32(out, uint32(8+len(body)))
		return append(append(out, typ...), body...)
	}
	mdat := make([]byte, 96<<10)
	for i := 0; i < len(mdat); i += 8 {
		binary.LittleEndian.PutUint64(mdat[i:], r.next())
	}
	out := box(nil, "ftyp", []byte("isom\x00\x00\x02\x00isomiso2mp41"))
	return box(out, "mdat", mdat)
}
