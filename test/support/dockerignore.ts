// Which files of a build context a container build sees: .dockerignore's rules as Docker and buildah
// apply them (moby/patternmatcher: globs where `*` stays within a path segment and `**` spans any
// number of them, later lines win, `!` re-includes, and a pattern that matches a directory matches
// everything below it). Pure: images.ts walks the context with it to hash an image's real inputs.

interface Pattern {
  exclusion: boolean;
  regex: RegExp;
  /** The cleaned pattern's segments, to decide whether a directory may hold a re-included file. */
  segments: string[];
}

export interface IgnoreRules {
  patterns: Pattern[];
}

/** Normalizes like Go's filepath.Clean on a relative slash path: no `.`, `..` resolved, no trailing `/`. */
function clean(path: string): string {
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return out.join('/');
}

/** A .dockerignore glob as an anchored regular expression (moby/patternmatcher's translation). */
export function globRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') i++;
        // `**` at the end takes everything; elsewhere it spans zero or more whole directories.
        re += i + 1 >= pattern.length ? '.*' : '(.*/)?';
      } else {
        re += '[^/]*';
      }
    } else if (ch === '?') {
      re += '[^/]';
    } else if (ch === '\\' && i + 1 < pattern.length) {
      i++;
      re += (pattern[i] as string).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new Error(`.dockerignore pattern ${JSON.stringify(pattern)}: unterminated '[' at ${i}`);
      let body = pattern.slice(i + 1, end);
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else {
      re += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`);
}

/** Parses a .dockerignore file's text. */
export function parseIgnore(text: string): IgnoreRules {
  const patterns: Pattern[] = [];
  for (const raw of text.split('\n')) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const exclusion = line.startsWith('!');
    if (exclusion) line = line.slice(1).trim();
    line = clean(line.replace(/^\/+/, ''));
    if (line === '') continue;
    patterns.push({ exclusion, regex: globRegex(line), segments: line.split('/') });
  }
  return { patterns };
}

/** Whether `path` (relative, slash-separated) is left out of the context. */
export function isIgnored(rules: IgnoreRules, path: string): boolean {
  const parts = clean(path).split('/');
  let matched = false;
  for (const p of rules.patterns) {
    // An inclusion can't change an unmatched path, nor an exclusion a matched one.
    if (p.exclusion !== matched) continue;
    let hit = p.regex.test(parts.join('/'));
    for (let i = 1; !hit && i < parts.length; i++) hit = p.regex.test(parts.slice(0, i).join('/'));
    if (hit) matched = !p.exclusion;
  }
  return matched;
}

/**
 * Whether an ignored directory may still hold a file that a `!` line brings back, so a walk must
 * descend into it. False lets the walk skip node_modules, .git and the like without reading them.
 */
export function mayReinclude(rules: IgnoreRules, dir: string): boolean {
  const parts = clean(dir).split('/');
  return rules.patterns.some((p) => {
    if (!p.exclusion) return false;
    for (let i = 0; i < Math.min(parts.length, p.segments.length); i++) {
      const seg = p.segments[i] as string;
      if (seg.includes('**')) return true;
      if (!globRegex(seg).test(parts[i] as string)) return false;
    }
    return true;
  });
}
