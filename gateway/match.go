package gateway

import (
	"errors"
	"fmt"
	"strings"
)

// segKind is the kind of one compiled glob segment.
type segKind uint8

const (
	segLiteral segKind = iota // matches one segment equal to lit
	segStar                   // "*": matches exactly one non-empty segment
	segGlob                   // "**": matches zero or more segments
)

type segment struct {
	kind segKind
	lit  string
}

// pattern is a compiled path glob. Matching walks the request path in place
// and does not allocate.
type pattern struct {
	src  string
	segs []segment
}

// errBadGlob is wrapped by every glob compilation error.
var errBadGlob = errors.New("bad glob")

// compilePattern compiles a path glob: it starts with "/", its segments are
// separated by "/", a segment "*" matches exactly one non-empty path segment
// and a segment "**" matches any number of segments, including none.
// Wildcards must be whole segments; "." and ".." segments and empty segments
// (other than a single trailing one, as in "/orders/") are refused because no
// cleaned request path can contain them.
func compilePattern(src string) (pattern, error) {
	if src == "" || src[0] != '/' {
		return pattern{}, fmt.Errorf("%w %q: must start with /", errBadGlob, src)
	}
	parts := strings.Split(src[1:], "/")
	p := pattern{src: src, segs: make([]segment, 0, len(parts))}
	for i, part := range parts {
		last := i == len(parts)-1
		switch {
		case part == "**":
			if i > 0 && parts[i-1] == "**" {
				return pattern{}, fmt.Errorf("%w %q: repeated **", errBadGlob, src)
			}
			p.segs = append(p.segs, segment{kind: segGlob})
		case part == "*":
			p.segs = append(p.segs, segment{kind: segStar})
		case strings.Contains(part, "*"):
			return pattern{}, fmt.Errorf("%w %q: * and ** must be whole segments", errBadGlob, src)
		case part == "" && !last:
			return pattern{}, fmt.Errorf("%w %q: empty segment", errBadGlob, src)
		case part == "" && last && len(parts) > 1 && parts[i-1] == "**":
			return pattern{}, fmt.Errorf("%w %q: trailing / after ** is redundant", errBadGlob, src)
		case part == "." || part == "..":
			return pattern{}, fmt.Errorf("%w %q: . and .. segments never match", errBadGlob, src)
		case strings.ContainsAny(part, "?#%\\"):
			return pattern{}, fmt.Errorf("%w %q: ?, #, %% and \\ are not allowed", errBadGlob, src)
		default:
			p.segs = append(p.segs, segment{kind: segLiteral, lit: part})
		}
	}
	return p, nil
}

// match reports whether the cleaned request path (starting with "/") matches.
//
// It is the classic wildcard algorithm lifted from bytes to segments: "*"
// plays the part of "?" (one segment) and "**" the part of "*" (any run of
// segments). Only the most recent "**" is remembered for backtracking, which
// is enough for a correct answer and keeps the work at O(len(path) ×
// len(pattern)) in the worst case.
func (p *pattern) match(path string) bool {
	if len(path) == 0 || path[0] != '/' {
		return false
	}
	// pos is the byte offset of the start of the current path segment;
	// pos == len(path)+1 means the path is used up.
	end := len(path) + 1
	pos := 1
	si := 0
	backSeg, backPos := -1, 0
	for pos < end || si < len(p.segs) {
		if si < len(p.segs) && pos < end {
			seg, next := nextSegment(path, pos)
			switch s := p.segs[si]; s.kind {
			case segGlob:
				// Try zero segments first; remember where to resume.
				backSeg, backPos = si, pos
				si++
				continue
			case segStar:
				if seg != "" {
					si, pos = si+1, next
					continue
				}
			case segLiteral:
				if seg == s.lit {
					si, pos = si+1, next
					continue
				}
			}
		} else if si < len(p.segs) && p.segs[si].kind == segGlob {
			// Path used up: a trailing ** matches nothing.
			si++
			continue
		}
		// Mismatch: let the last ** swallow one more segment.
		if backSeg < 0 || backPos >= end {
			return false
		}
		_, backPos = nextSegment(path, backPos)
		si, pos = backSeg+1, backPos
	}
	return true
}

// nextSegment returns the path segment starting at pos and the offset of the
// segment after it (len(path)+1 when it was the last one).
func nextSegment(path string, pos int) (string, int) {
	if i := strings.IndexByte(path[pos:], '/'); i >= 0 {
		return path[pos : pos+i], pos + i + 1
	}
	return path[pos:], len(path) + 1
}
