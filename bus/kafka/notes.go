package kafka

import (
	"slices"
	"strconv"
	"strings"
)

// notes is what a member leaving a partition tells the next owner, in the
// metadata string of its last offset commit: which records after the
// committed offset were already acknowledged (so they are not delivered
// again) and how often the others were delivered (so Attempt keeps
// counting across members).
//
// Encoded, relative to the committed offset C:
//
//	eddy1;C;ITEM,ITEM,...   ITEM = R"a" | R"-"R"a" | R"x"N
//
// where "Ra" says record C+R was acknowledged, "R1-R2a" that C+R1 to C+R2
// were, and "RxN" that C+R was delivered N times without being
// acknowledged. The string stays below maxNotesLen, within Kafka's default
// offset.metadata.max.bytes of 4096; what does not fit is left out, which
// costs duplicates or Attempt counts, never events.
type notes struct {
	commit   int64
	acked    map[int64]bool
	attempts map[int64]int
}

const (
	notesPrefix = "eddy1;"
	maxNotesLen = 3000
	// maxNoteRecords bounds the records a decoded note may describe.
	maxNoteRecords = 1 << 16
)

func newNotes(commit int64) *notes {
	return &notes{commit: commit, acked: map[int64]bool{}, attempts: map[int64]int{}}
}

// empty reports whether the notes say nothing beyond the offset.
func (n *notes) empty() bool { return len(n.acked) == 0 && len(n.attempts) == 0 }

// encode renders the notes; "" if they are empty.
func (n *notes) encode() string {
	if n == nil || n.empty() {
		return ""
	}
	offsets := make([]int64, 0, len(n.acked)+len(n.attempts))
	for o := range n.acked {
		if o >= n.commit {
			offsets = append(offsets, o)
		}
	}
	for o := range n.attempts {
		if o >= n.commit && !n.acked[o] {
			offsets = append(offsets, o)
		}
	}
	slices.Sort(offsets)
	var sb strings.Builder
	sb.WriteString(notesPrefix)
	sb.WriteString(strconv.FormatInt(n.commit, 10))
	sb.WriteByte(';')
	first := true
	for i := 0; i < len(offsets); {
		o := offsets[i]
		var item string
		if n.acked[o] {
			j := i
			for j+1 < len(offsets) && offsets[j+1] == offsets[j]+1 && n.acked[offsets[j+1]] {
				j++
			}
			if j > i {
				item = strconv.FormatInt(o-n.commit, 10) + "-" + strconv.FormatInt(offsets[j]-n.commit, 10) + "a"
			} else {
				item = strconv.FormatInt(o-n.commit, 10) + "a"
			}
			i = j + 1
		} else {
			item = strconv.FormatInt(o-n.commit, 10) + "x" + strconv.Itoa(n.attempts[o])
			i++
		}
		if sb.Len()+len(item)+1 > maxNotesLen {
			break
		}
		if !first {
			sb.WriteByte(',')
		}
		first = false
		sb.WriteString(item)
	}
	return sb.String()
}

// parseNotes decodes notes; nil if s holds none or is malformed.
func parseNotes(s string) *notes {
	rest, ok := strings.CutPrefix(s, notesPrefix)
	if !ok {
		return nil
	}
	cs, items, ok := strings.Cut(rest, ";")
	if !ok {
		return nil
	}
	commit, err := strconv.ParseInt(cs, 10, 64)
	if err != nil || commit < 0 {
		return nil
	}
	n := newNotes(commit)
	if items == "" {
		return n
	}
	count := 0
	rel := func(s string) (int64, bool) {
		r, err := strconv.ParseInt(s, 10, 64)
		if err != nil || r < 0 || r > 1<<40 {
			return 0, false
		}
		return r, true
	}
	for _, item := range strings.Split(items, ",") {
		switch {
		case strings.HasSuffix(item, "a"):
			body := item[:len(item)-1]
			from, to, isRange := strings.Cut(body, "-")
			lo, ok := rel(from)
			if !ok {
				return nil
			}
			hi := lo
			if isRange {
				if hi, ok = rel(to); !ok || hi < lo {
					return nil
				}
			}
			if count += int(hi - lo + 1); count > maxNoteRecords {
				return nil
			}
			for r := lo; r <= hi; r++ {
				n.acked[commit+r] = true
			}
		default:
			rs, ns, ok := strings.Cut(item, "x")
			if !ok {
				return nil
			}
			r, ok := rel(rs)
			if !ok {
				return nil
			}
			a, err := strconv.Atoi(ns)
			if err != nil || a < 1 || a > 1<<30 {
				return nil
			}
			if count++; count > maxNoteRecords {
				return nil
			}
			n.attempts[commit+r] = a
		}
	}
	return n
}
