package main

import (
	"strings"
)

// Splitting SQL scripts into statements for `quiver sql -f` and the prompt. The server
// runs one statement per query, so the client cuts a script at its semicolons; a
// semicolon inside a string, a quoted name, a dollar-quoted body or a comment does
// not end a statement.

// statement is one statement of a script and where it starts, for error messages.
type statement struct {
	text string // without its terminating semicolon
	line int    // 1-based line of its first character that is not space or comment
}

// splitStatements cuts script into statements, each from its first token that is not
// space or a comment. Statements that hold only space and comments are dropped. An unterminated last statement is kept as it is.
func splitStatements(script string) []statement {
	var out []statement
	sc := sqlScanner{src: script}
	start, line, content := 0, 1, false
	stmtLine := 0
	for sc.pos < len(script) {
		tokLine := line
		kind := sc.next()
		line += strings.Count(script[sc.tokStart:sc.pos], "\n")
		switch kind {
		case tokSpace, tokComment:
			continue
		case tokSemicolon:
			if text := strings.TrimSpace(script[start:sc.tokStart]); content && text != "" {
				out = append(out, statement{text: text, line: stmtLine})
			}
			content = false
			continue
		}
		if !content {
			content, stmtLine, start = true, tokLine, sc.tokStart
		}
	}
	if text := strings.TrimSpace(script[start:]); content && text != "" {
		out = append(out, statement{text: text, line: stmtLine})
	}
	return out
}

// statementComplete reports whether text ends a statement: its last token that is not
// space or a comment is a semicolon outside any string, quoted name or comment. The
// prompt reads more lines until it does.
func statementComplete(text string) bool {
	sc := sqlScanner{src: text}
	last := tokSpace
	for sc.pos < len(text) {
		kind := sc.next()
		if sc.unterminated {
			return false
		}
		if kind != tokSpace && kind != tokComment {
			last = kind
		}
	}
	return last == tokSemicolon
}

type tokenKind int

const (
	tokSpace tokenKind = iota
	tokComment
	tokSemicolon
	tokQuoted // a string, quoted name or dollar-quoted body
	tokOther
)

// sqlScanner reads the tokens that matter for splitting: space, comments, quoted
// text and semicolons. Everything else is one character of tokOther.
type sqlScanner struct {
	src          string
	pos          int
	tokStart     int
	unterminated bool // the last token ran to the end of src unclosed
}

func (s *sqlScanner) next() tokenKind {
	s.tokStart = s.pos
	s.unterminated = false
	c := s.src[s.pos]
	rest := s.src[s.pos:]
	switch {
	case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
		s.pos++
		return tokSpace
	case c == ';':
		s.pos++
		return tokSemicolon
	case strings.HasPrefix(rest, "--"):
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			s.pos += i
		} else {
			s.pos = len(s.src)
		}
		return tokComment
	case strings.HasPrefix(rest, "/*"):
		s.blockComment()
		return tokComment
	case c == '\'':
		s.quoted('\'', false)
		return tokQuoted
	case c == '"':
		s.quoted('"', false)
		return tokQuoted
	case (c == 'e' || c == 'E') && len(rest) > 1 && rest[1] == '\'' && !s.afterIdentChar():
		s.pos++
		s.quoted('\'', true)
		return tokQuoted
	case c == '$':
		if tag, ok := dollarTag(rest); ok && !s.afterIdentChar() {
			if i := strings.Index(rest[len(tag):], tag); i >= 0 {
				s.pos += len(tag) + i + len(tag)
			} else {
				s.pos, s.unterminated = len(s.src), true
			}
			return tokQuoted
		}
	}
	s.pos++
	return tokOther
}

// afterIdentChar reports whether the token starts inside a word (the e of "name'"
// or the $ of "a$b" do not start a string).
func (s *sqlScanner) afterIdentChar() bool {
	if s.pos == 0 {
		return false
	}
	p := s.src[s.pos-1]
	return p == '_' || p == '$' || p >= '0' && p <= '9' || p >= 'a' && p <= 'z' || p >= 'A' && p <= 'Z' || p >= 0x80
}

// quoted skips a string or quoted name that starts at s.pos: a doubled quote is one
// quote; with backslashes (E'...'), a backslash escapes the next character.
func (s *sqlScanner) quoted(q byte, backslashes bool) {
	i := s.pos + 1
	for i < len(s.src) {
		switch {
		case backslashes && s.src[i] == '\\':
			i += 2
			continue
		case s.src[i] == q:
			if i+1 < len(s.src) && s.src[i+1] == q {
				i += 2
				continue
			}
			s.pos = i + 1
			return
		}
		i++
	}
	s.pos, s.unterminated = len(s.src), true
}

// blockComment skips a /* */ comment; they nest, as in PostgreSQL and DuckDB.
func (s *sqlScanner) blockComment() {
	depth, i := 0, s.pos
	for i < len(s.src) {
		switch {
		case strings.HasPrefix(s.src[i:], "/*"):
			depth++
			i += 2
		case strings.HasPrefix(s.src[i:], "*/"):
			depth--
			i += 2
			if depth == 0 {
				s.pos = i
				return
			}
		default:
			i++
		}
	}
	s.pos, s.unterminated = len(s.src), true
}

// dollarTag returns the $tag$ or $$ that starts s, if it is one.
func dollarTag(s string) (string, bool) {
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '$':
			return s[:i+1], true
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 || i > 1 && c >= '0' && c <= '9':
		default:
			return "", false
		}
	}
	return "", false
}
