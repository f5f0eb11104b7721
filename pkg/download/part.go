package download

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// meta binds a .part file to what it holds a prefix of. It lives beside the
// part as "<name>.part.meta" and is the lock file of the transfer.
type meta struct {
	RequestID string `json:"request_id"`
	// URL is the asset URL without its query (re-signed URLs name the same bytes).
	URL string `json:"url"`
	// Validator is the asset host's ETag (else Last-Modified) for the
	// bytes in the part; "" means the part can never be resumed.
	Validator string `json:"validator,omitempty"`
	// Done is set, just before the meta file is removed, once the output is
	// published: a process that waited for the lock reads it to learn that
	// the output is saved.
	Done *File `json:"done,omitempty"`
}

// part is a locked .part file and its meta file.
type part struct {
	path, metaPath string
	lock           *os.File // the meta file, locked
	f              *os.File // the data
	meta           meta
	truncated      bool // since the last sync
}

// lockPoll is how often a Fetch waiting for another one's part retries.
const lockPoll = 50 * time.Millisecond

// acquire opens final's part and meta files and locks the meta file,
// waiting (within ctx) while another process or goroutine holds it. If the
// holder published an output of binding, acquire returns it as done.
func acquire(ctx context.Context, final string, binding meta) (*part, *File, error) {
	p := &part{path: final + ".part", metaPath: final + ".part.meta"}
	for tries := 0; ; tries++ {
		if tries > 100 {
			return nil, nil, fmt.Errorf("%s keeps changing; is another program writing there?", p.metaPath)
		}
		lock, err := openSingle(p.metaPath)
		if err != nil {
			return nil, nil, err
		}
		for {
			ok, err := tryLock(lock)
			if err != nil {
				lock.Close()
				return nil, nil, fmt.Errorf("locking %s: %w", p.metaPath, err)
			}
			if ok {
				break
			}
			if err := sleep(ctx, lockPoll); err != nil {
				lock.Close()
				return nil, nil, err
			}
		}
		p.meta = readMeta(lock)
		if d := p.meta.Done; d != nil && p.meta.RequestID == binding.RequestID && p.meta.URL == binding.URL &&
			binding.RequestID != "" && Matches(d.Path, d.Bytes, d.SHA256) {
			lock.Close()
			return nil, d, nil
		}
		// The holder may have removed the meta file (and another process
		// created a new one) while this one waited: lock the file at the path.
		held, herr := lock.Stat()
		now, nerr := os.Lstat(p.metaPath)
		if herr != nil || nerr != nil || !os.SameFile(held, now) {
			lock.Close()
			continue
		}
		p.lock = lock
		break
	}
	f, err := openSingle(p.path)
	if err != nil {
		p.release()
		return nil, nil, err
	}
	p.f = f
	return p, nil, nil
}

// openSingle opens (creating) a regular file that no symlink leads to and
// that has no other hard link: a planted link would have hf write outside
// the output directory. A name with extra links is removed (the other
// names keep their data) and made anew.
func openSingle(p string) (*os.File, error) {
	for range 2 {
		f, err := openNoFollow(p)
		if err != nil {
			if fi, lerr := os.Lstat(p); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
				return nil, fmt.Errorf("%s is a symbolic link; refusing to write through it", p)
			}
			return nil, err
		}
		fi, err := f.Stat()
		if err == nil && !fi.Mode().IsRegular() {
			err = fmt.Errorf("%s is not a regular file", p)
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		if linkCount(fi) == 1 {
			return f, nil
		}
		f.Close()
		if err := os.Remove(p); err != nil {
			return nil, fmt.Errorf("%s has other hard links and cannot be removed: %w", p, err)
		}
	}
	return nil, fmt.Errorf("%s keeps getting other hard links; refusing to write through it", p)
}

func readMeta(f *os.File) meta {
	var m meta
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<20))
	if err == nil {
		_ = json.Unmarshal(data, &m) // an unreadable binding binds nothing
	}
	return m
}

// resumable reports whether the part holds a prefix of binding's output
// that the host can be asked to continue.
func (p *part) resumable(binding meta) bool {
	fi, err := p.f.Stat()
	return err == nil && fi.Size() > 0 && binding.RequestID != "" &&
		p.meta.RequestID == binding.RequestID && p.meta.URL == binding.URL && p.meta.Validator != ""
}

// bind records that the part now holds (from byte 0) the bytes of binding
// with validator, durably, before the first of them is written.
func (p *part) bind(binding meta, validator string) error {
	if fi, err := p.f.Stat(); err != nil {
		return err
	} else if fi.Size() > 0 {
		if err := p.truncate(); err != nil {
			return err
		}
	}
	if p.truncated { // old bytes must not come back beside the new binding
		if err := p.f.Sync(); err != nil {
			return err
		}
		p.truncated = false
	}
	binding.Validator = validator
	if err := writeMeta(p.lock, binding); err != nil {
		return err
	}
	if err := p.lock.Sync(); err != nil {
		return err
	}
	p.meta = binding
	return nil
}

func writeMeta(f *os.File, m meta) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err = f.WriteAt(append(data, '\n'), 0)
	return err
}

// truncate empties the part.
func (p *part) truncate() error {
	if err := p.f.Truncate(0); err != nil {
		return err
	}
	p.truncated = true
	_, err := p.f.Seek(0, io.SeekStart)
	return err
}

// finish makes the part's bytes durable and closes it.
func (p *part) finish() error {
	err := p.f.Sync()
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	p.f = nil
	return err
}

// published tells a process waiting for the lock where the output went,
// removes the meta file and unlocks it.
func (p *part) published(file File) {
	m := p.meta
	m.Done = &file
	_ = writeMeta(p.lock, m)
	_ = os.Remove(p.metaPath)
	p.release()
}

// discard removes the part and its binding (an output over the size cap).
func (p *part) discard() {
	if p == nil || p.lock == nil {
		return
	}
	_ = os.Remove(p.path)
	_ = os.Remove(p.metaPath)
	p.release()
}

// release closes whatever is still open; the lock goes with its file. It
// is a no-op on a nil or released part.
func (p *part) release() {
	if p == nil {
		return
	}
	if p.f != nil {
		p.f.Close()
		p.f = nil
	}
	if p.lock != nil {
		p.lock.Close()
		p.lock = nil
	}
}

var errClosedPart = errors.New("part file is closed")

// writer is the part's data file as the copy pipeline writes to it, with
// early writeback so that the final sync has little left to do.
func (p *part) writer() io.Writer { return &partWriter{p: p} }

type partWriter struct {
	p *part
	// submitted is where the window not yet handed to writeback starts;
	// prevOff, prevN the window handed over last, waited for next time.
	submitted, prevOff, prevN int64
}

func (w *partWriter) Write(b []byte) (int, error) {
	f := w.p.f
	if f == nil {
		return 0, errClosedPart
	}
	pos, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	if pos < w.submitted { // rewound
		w.submitted, w.prevN = pos, 0
	}
	n, err := f.Write(b)
	if end := pos + int64(n); end-w.submitted >= writebackEvery {
		// Start writing this window back and wait for the one before, so
		// that dirty pages stay bounded and the final sync is short.
		writeback(f, w.submitted, end-w.submitted, false)
		if w.prevN > 0 {
			writeback(f, w.prevOff, w.prevN, true)
		}
		w.prevOff, w.prevN, w.submitted = w.submitted, end-w.submitted, end
	}
	return n, err
}
