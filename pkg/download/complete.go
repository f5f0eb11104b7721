package download

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// errEndedEarly: a body of unknown length ended cleanly, but its content
// says it is cut short.
var errEndedEarly = errors.New("the body ended early")

// complete checks, for the kinds of file the API makes, that the n bytes
// in r are a whole file: a PNG ends with its IEND chunk, the RIFF size of a
// WebP and the top-level boxes of an MP4/MOV cover exactly n bytes, a JPEG
// has its end-of-image marker near the end. Other content is taken as it
// is. It matters when the host announced no length: a body that ends early
// but well-formed (a chunked answer whose last chunk came too soon) is
// otherwise indistinguishable from a whole one.
func complete(r io.ReaderAt, n int64) error {
	head := make([]byte, min(n, 16))
	if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
		return err
	}
	tail := func(k int64) []byte {
		k = min(k, n)
		b := make([]byte, k)
		if _, err := r.ReadAt(b, n-k); err != nil && err != io.EOF {
			return nil
		}
		return b
	}
	switch {
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		if !bytes.Equal(tail(12), []byte("\x00\x00\x00\x00IEND\xaeB`\x82")) {
			return fmt.Errorf("%w: a PNG of %d bytes without its IEND chunk", errEndedEarly, n)
		}
	case len(head) >= 12 && bytes.Equal(head[:4], []byte("RIFF")) && bytes.Equal(head[8:12], []byte("WEBP")):
		if size := int64(binary.LittleEndian.Uint32(head[4:8])) + 8; size > n {
			return fmt.Errorf("%w: a WebP of %d bytes, %d announced in its header", errEndedEarly, n, size)
		}
	case len(head) >= 8 && bytes.Equal(head[4:8], []byte("ftyp")):
		return boxesComplete(r, n)
	case bytes.HasPrefix(head, []byte{0xff, 0xd8, 0xff}):
		if !bytes.Contains(tail(4<<10), []byte{0xff, 0xd9}) {
			return fmt.Errorf("%w: a JPEG of %d bytes without its end-of-image marker", errEndedEarly, n)
		}
	}
	return nil
}

// boxesComplete walks the top-level ISO-BMFF boxes: they must end exactly
// at n (a box of size 0 runs to the end).
func boxesComplete(r io.ReaderAt, n int64) error {
	var off int64
	hdr := make([]byte, 16)
	for off < n {
		if n-off < 8 {
			return fmt.Errorf("%w: an MP4 of %d bytes ends inside a box header", errEndedEarly, n)
		}
		if _, err := r.ReadAt(hdr[:8], off); err != nil {
			return err
		}
		size := int64(binary.BigEndian.Uint32(hdr[:4]))
		switch size {
		case 0:
			return nil // to the end of the file
		case 1:
			if n-off < 16 {
				return fmt.Errorf("%w: an MP4 of %d bytes ends inside a box header", errEndedEarly, n)
			}
			if _, err := r.ReadAt(hdr[8:16], off+8); err != nil {
				return err
			}
			size = int64(binary.BigEndian.Uint64(hdr[8:16]))
			if size < 16 {
				return nil // not a box structure hf can judge
			}
		default:
			if size < 8 {
				return nil
			}
		}
		if off+size > n {
			return fmt.Errorf("%w: an MP4 of %d bytes whose %q box needs %d", errEndedEarly, n, hdr[4:8], off+size)
		}
		off += size
	}
	return nil
}
