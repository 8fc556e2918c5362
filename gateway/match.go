package gateway

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
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
// cleaned request path can contain them. Literal segments hold only RFC 3986
// unreserved characters (ASCII letters, digits, "-", ".", "_", "~"): the
// gateway refuses percent-encodings of those, so a literal matches the same
// segments whether an upstream routes on the raw path (express) or on the
// decoded one (most others).
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
		case !plainLiteral(part):
			return pattern{}, fmt.Errorf("%w %q: literal segments may hold only ASCII letters, digits and - . _ ~ (a client may percent-encode anything else, and upstreams disagree on whether to decode it before routing)", errBadGlob, src)
		default:
			p.segs = append(p.segs, segment{kind: segLiteral, lit: part})
		}
	}
	return p, nil
}

// plainLiteral reports whether s holds only RFC 3986 unreserved characters.
func plainLiteral(s string) bool {
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			return false
		}
	}
	return true
}

// unreserved reports whether c is an RFC 3986 unreserved character.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// match reports whether the cleaned request path (starting with "/") matches
// as it is spelt: literals compared exactly, parameters kept.
func (p *pattern) match(path string) bool {
	return p.matchAs(path, reading{})
}

// reading is one way an upstream may read a request path: see resolve.
type reading struct {
	fold     bool // literals compared with Unicode simple case folding
	strip    bool // ";" parameters cut off each segment, segments left empty dropped
	addSlash bool // a trailing "/" added after the last segment
}

// matchAs reports whether path (starting with "/") matches when read as rd.
//
// It is the classic wildcard algorithm lifted from bytes to segments: "*"
// plays the part of "?" (one segment) and "**" the part of "*" (any run of
// segments). Only the most recent "**" is remembered for backtracking, which
// is enough for a correct answer and keeps the work at O(len(path) ×
// len(pattern)) in the worst case. It does not allocate.
func (p *pattern) matchAs(path string, rd reading) bool {
	if len(path) == 0 || path[0] != '/' {
		return false
	}
	// pos is the byte offset of the start of the current path segment;
	// pos >= end means the path is used up. With addSlash, offset
	// len(path)+1 is a virtual empty last segment.
	end := len(path) + 1
	if rd.addSlash {
		end++
	}
	pos := 1
	if rd.strip {
		pos = rd.skip(path, pos, end)
	}
	si := 0
	backSeg, backPos := -1, 0
	for pos < end || si < len(p.segs) {
		if si < len(p.segs) && pos < end {
			// The segment at pos and the offset of the next one, inline
			// (this is the hot loop).
			seg, next := "", pos+1 // the virtual segment of addSlash
			if pos <= len(path) {
				if i := strings.IndexByte(path[pos:], '/'); i >= 0 {
					seg, next = path[pos:pos+i], pos+i+1
				} else {
					seg, next = path[pos:], len(path)+1
				}
				if rd.strip {
					if i := strings.IndexByte(seg, ';'); i >= 0 {
						seg = seg[:i]
					}
					next = rd.skip(path, next, end)
				}
			}
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
				if seg == s.lit || (rd.fold && foldEqual(seg, s.lit)) {
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
		if backPos > len(path) {
			backPos++
		} else {
			_, backPos = nextSegment(path, backPos)
		}
		if rd.strip {
			backPos = rd.skip(path, backPos, end)
		}
		si, pos = backSeg+1, backPos
	}
	return true
}

// foldEqual reports whether seg equals the ASCII literal lit ignoring case
// as case-insensitive upstreams compare: a character of seg equals a letter
// of lit when its simple upper-case or lower-case mapping is that letter in
// either case. Besides ASCII letters that takes in "ſ" (upper case S), the
// Kelvin sign (lower case k), dotless "ı" (upper case I) and "İ" (lower
// case i), which .NET's OrdinalIgnoreCase and Java's equalsIgnoreCase
// match against ASCII letters.
func foldEqual(seg, lit string) bool {
	j := 0
	for _, r := range seg {
		if j >= len(lit) || foldRune(r) != rune(lowerASCII(lit[j])) {
			return false
		}
		j++
	}
	return j == len(lit)
}

// foldRune maps r to the lower-case ASCII letter it folds to, if any.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		return rune(lowerASCII(byte(r)))
	}
	if u := unicode.ToUpper(r); u < utf8.RuneSelf {
		return rune(lowerASCII(byte(u)))
	}
	if l := unicode.ToLower(r); l < utf8.RuneSelf {
		return l
	}
	return r
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// skip returns pos, or when stripping, the offset of the first segment from
// pos on that is not all parameters (";x" vanishes: "/a/;x/b" is "/a/b").
func (rd reading) skip(path string, pos, end int) int {
	for rd.strip && pos < len(path) && pos < end && path[pos] == ';' {
		_, pos = nextSegment(path, pos)
	}
	return pos
}

// nextSegment returns the path segment starting at pos and the offset of the
// segment after it (len(path)+1 when it was the last one).
func nextSegment(path string, pos int) (string, int) {
	if i := strings.IndexByte(path[pos:], '/'); i >= 0 {
		return path[pos : pos+i], pos + i + 1
	}
	return path[pos:], len(path) + 1
}
