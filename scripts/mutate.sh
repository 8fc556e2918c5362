#!/usr/bin/env bash
# Mutation testing of apiguard's security-critical packages with gremlins
# (issue 19): it changes the code one operator at a time (== to !=, < to <=,
# + to -, …), runs the package's tests against each change, and counts the
# changes ("mutants") no test notices. Writes MUTATION.md.
#
#   scripts/mutate.sh                 full run: the root package, gateway, login, session and
#                                     devissuer; one `go test` per mutant, so many hours on 2 cores
#   scripts/mutate.sh session         quick run: only the packages named (. for the root); prints
#                                     the report and writes no file unless OUTPUT is set
#   FILES="verify.go claims.go" scripts/mutate.sh .
#                                     mutate only those files of the package(s) named
#   BUDGET=30m scripts/mutate.sh .    stop each package after 30 minutes (the report says so)
#   LOGS=/tmp/m scripts/mutate.sh gateway; LOGS=/tmp/m scripts/mutate.sh .; scripts/mutate.sh --report /tmp/m
#                                     runs kept apart (in parallel, say), one report
#   scripts/mutate.sh --import /tmp/old; LOGS=/tmp/a FILES=rules.go scripts/mutate.sh gateway
#   scripts/mutate.sh --report /tmp/old /tmp/a
#                                     add a run to the committed figures: --import splits
#                                     MUTATION.md's table and survivors back into row files;
#                                     --report with several directories gives a package one row
#                                     per run (each with its files and commit) and, when it has
#                                     more than one, a total line (a file in two runs counts twice)
#   scripts/mutate.sh -h              this text
#
# Settings (environment): WORKERS (mutants tested at once, default 1),
# BUDGET (time limit per package, `timeout` syntax, default none), FILES
# (file names in the package's directory to mutate instead of all), REF (the
# commit to test, default HEAD), OUTPUT (default MUTATION.md for a full run
# or --report, none for a quick run), LOGS (a directory to keep each
# package's gremlins log and report rows in; --report DIR reads them back),
# GREMLINS_LOG (one package only: take this log of an earlier gremlins run
# at REF instead of running gremlins; PARTIAL=1 if that run was stopped,
# MINUTES=N its wall-clock time when the log does not say, as a stopped
# run's does not).
#
# How: gremlins is installed (pinned) into a temporary GOBIN. Each package is
# mutated in a private clone of the repository at REF, so uncommitted work in
# this checkout is neither touched nor tested; in that clone the tests of
# other packages are deleted, so the coverage run (which decides which
# mutants are worth testing) runs only the package's own tests. gremlins then
# runs `go test PKG` per mutant, with vet off: only the package's own tests,
# so a mutant that only hostile/ or cmd/apiguard would kill counts as lived.
#
# MUTATION.md is generated down to the line "<!-- by hand -->"; what follows
# it (each survivor explained: the test that now kills it, or why it is
# equivalent) is kept from the existing file.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

GREMLINS_VERSION=v0.6.0
GREMLINS=github.com/go-gremlins/gremlins/cmd/gremlins@$GREMLINS_VERSION
WORKERS=${WORKERS:-1}
BUDGET=${BUDGET:-}
FILES=${FILES:-}
REF=${REF:-HEAD}
GREMLINS_LOG=${GREMLINS_LOG:-}

log() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'mutate.sh: %s\n' "$*" >&2
	exit 1
}

# The order of packages in the report.
all_packages=(. gateway login session devissuer)
# Token binding and introspection, should they move to packages of their own.
for p in dpop introspect; do
	[[ -d $p ]] && all_packages+=("$p")
done

report_only=()
import_to=
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
	sed -n '2,/^$/{ /^#/!q; s/^# \{0,1\}//p; }' "$0"
	exit 0
elif [[ ${1:-} == --report ]]; then
	[[ $# -ge 2 ]] || die "usage: scripts/mutate.sh --report LOGDIR..."
	shift
	for d in "$@"; do
		[[ -d $d ]] || die "no directory $d"
	done
	report_only=("$@")
	OUTPUT=${OUTPUT:-$repo/MUTATION.md}
elif [[ ${1:-} == --import ]]; then
	[[ $# -eq 2 ]] || die "usage: scripts/mutate.sh --import DIR"
	import_to=$2
	OUTPUT=${OUTPUT:-$repo/MUTATION.md}
elif [[ $# -gt 0 ]]; then
	packages=("$@")
	OUTPUT=${OUTPUT:-}
else
	packages=("${all_packages[@]}")
	OUTPUT=${OUTPUT:-$repo/MUTATION.md}
fi

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# slug PKG: a file name for the package.
slug() {
	local s=${1//\//_}
	[[ $s == . ]] && s=root
	echo "$s"
}

# title PKG: the package as the report names it.
title() {
	if [[ $1 == . ]]; then echo "apiguard (root)"; else echo "$1"; fi
}

# count STATUS LOG: the mutants of that status in a gremlins log.
count() { grep -cE "^ *$1 [A-Z_]+ at " "$2" || true; }

# rows PKG LOG SRC SECONDS COMPLETE COMMIT DIR: writes the package's table row
# (DIR/SLUG.row) and its survivors (DIR/SLUG.lived) from a gremlins log and
# the source tree it ran on.
rows() {
	local pkg=$1 logf=$2 src=$3 secs=$4 complete=$5 commit=$6 dir=$7
	local s k l nc to nv eff scope
	s=$(slug "$pkg")
	k=$(count KILLED "$logf")
	l=$(count LIVED "$logf")
	nc=$(count 'NOT COVERED' "$logf")
	to=$(count 'TIMED OUT' "$logf")
	nv=$(count 'NOT VIABLE' "$logf")
	eff=-
	if ((k + l > 0)); then
		eff=$(awk -v k="$k" -v l="$l" 'BEGIN { printf "%.1f%%", 100 * k / (k + l) }')
	fi
	scope=all
	[[ -z $FILES ]] || scope=$FILES
	if [[ $complete != yes ]]; then
		complete="no: stopped after $((secs / 60)) min"
		# gremlins takes the files in name order: the last one its log names is where it
		# stopped, and the chosen files after it were not reached.
		local last f dir_=$src/${pkg#.} missed=()
		last=$(sed -nE 's/^ *[A-Z ]+ [A-Z_]+ at ([^:]+):[0-9]+:[0-9]+.*/\1/p' "$logf" | tail -1)
		last=${last##*/}
		for f in "$dir_"/*.go; do
			f=${f##*/}
			[[ $f != *_test.go ]] || continue
			[[ -z $FILES || " $FILES " == *" $f "* ]] || continue
			[[ -z $last || $f > $last ]] && missed+=("$f")
		done
		[[ -z $last ]] || complete+=" in $last"
		((${#missed[@]} == 0)) || complete+="; not reached: ${missed[*]}"
	fi
	printf '| %s | %s | %s | %d | %d | %d | %d | %d | %d | %s | %d min × %d | %s |\n' \
		"$(title "$pkg")" "$scope" "$commit" $((k + l + nc + to + nv)) "$k" "$l" "$nc" "$to" "$nv" "$eff" \
		$(((secs + 59) / 60)) "$WORKERS" "$complete" >"$dir/$s.row"
	local type file line col path code
	echo "$pkg" >"$dir/$s.pkg"
	: >"$dir/$s.lived"
	while read -r type file line col; do
		path=$file
		[[ $pkg == . ]] || path=$pkg/$file
		code=$(sed -n "${line}p" "$src/$path" 2>/dev/null | sed -E 's/^[[:space:]]+//; s/`/'"'"'/g')
		echo "- \`$path:$line:$col\` ($commit) $type: \`$code\`" >>"$dir/$s.lived"
	done < <(sed -nE 's/^ *LIVED ([A-Z_]+) at ([^:]+):([0-9]+):([0-9]+).*/\1 \2 \3 \4/p' "$logf")
}

# files DIR... SLUG EXT: a package's row (EXT row) or survivor (EXT lived) files in the
# directories: SLUG.EXT, written by a run, and SLUG.*.EXT, written by --import.
files() {
	local ext=${*: -1} s=${*: -2:1} d f
	for d in "${@:1:$#-2}"; do
		for f in "$d/$s.$ext" "$d/$s".*."$ext"; do
			[[ -f $f ]] && echo "$f"
		done
	done
	return 0
}

# total TITLE ROWFILE...: the package's line summing its rows.
total() {
	local t=$1
	shift
	cat "$@" | awk -F' [|] ' -v t="$t" '
		{ m += $4; k += $5; l += $6; nc += $7; to += $8; nv += $9
		  split($11, w, " "); tm += w[1] * w[4]; n++ }
		END {
			eff = (k + l > 0) ? sprintf("%.1f%%", 100 * k / (k + l)) : "-"
			printf "| **%s, %d runs** | | | **%d** | **%d** | **%d** | %d | %d | %d | **%s** | %d worker-min | a file in two runs counts twice |\n",
				t, n, m, k, l, nc, to, nv, eff, tm
		}'
}

# report DIR...: MUTATION.md's generated part from the rows in the directories.
report() {
	local dirs=("$@") pkg s f
	local order=("${all_packages[@]}")
	for f in "${dirs[@]/%//}"*.pkg; do
		[[ -f $f ]] || continue
		pkg=$(<"$f")
		[[ " ${order[*]} " == *" $pkg "* ]] || order+=("$pkg")
	done
	cat <<'EOF'
# Mutation testing

Generated by `scripts/mutate.sh` with gremlins (its default mutators: arithmetic, conditionals
boundary and negation, increment/decrement, invert negatives); do not edit above the line
`<!-- by hand -->`. A mutant is one operator changed in the package's code. *Killed*: a test of the
package failed; *lived*: every test passed; *not covered*: no test of the package runs that line;
*timed out*: the tests ran past gremlins' limit (3× the coverage run); *not viable*: it did not
compile. Efficacy is killed ÷ (killed + lived), as gremlins counts it. Only the package's own tests
run against its mutants.

EOF
	echo "Machine: $(go version | sed 's/^go version //'), $(nproc) CPUs shared with other work. Written $(date -u '+%Y-%m-%d %H:%M UTC');"
	echo "time is wall-clock minutes × gremlins workers."
	echo
	echo "| package | files | commit | mutants | killed | lived | not covered | timed out | not viable | efficacy | time | complete |"
	echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
	local rowfiles livedfiles
	for pkg in "${order[@]}"; do
		s=$(slug "$pkg")
		mapfile -t rowfiles < <(files "${dirs[@]}" "$s" row)
		if ((${#rowfiles[@]} == 0)); then
			echo "| $(title "$pkg") | | | | | | | | | | | not run |"
			continue
		fi
		cat "${rowfiles[@]}"
		((${#rowfiles[@]} == 1)) || total "$(title "$pkg")" "${rowfiles[@]}"
	done
	echo
	echo "## Survivors (generated)"
	echo
	echo "Each lived mutant: where, the commit tested, which mutator, and the line as it stood in that commit."
	for pkg in "${order[@]}"; do
		s=$(slug "$pkg")
		mapfile -t rowfiles < <(files "${dirs[@]}" "$s" row)
		((${#rowfiles[@]} > 0)) || continue
		mapfile -t livedfiles < <(files "${dirs[@]}" "$s" lived)
		echo
		echo "### $(title "$pkg")"
		echo
		if ((${#livedfiles[@]} > 0)) && [[ -n $(cat "${livedfiles[@]}") ]]; then
			cat "${livedfiles[@]}"
		else
			echo "none"
		fi
	done
}

# import DIR: MUTATION.md's table rows and survivors as row files in DIR, so that a report
# with DIR among its directories keeps them. A package's survivors go to one file; when it
# had a single row, each survivor is given that row's commit if it does not name one.
import() {
	local dir=$1 line t pkg s n=0 cur= commit
	[[ -f $OUTPUT ]] || die "no $OUTPUT to import"
	mkdir -p "$dir"
	declare -A rowsof=() commitof=()
	while IFS= read -r line; do
		[[ $line == '| '* && $line != '| package |'* && $line != '| --- |'* ]] || continue
		t=$(awk -F' [|] ' '{ sub(/^[|] /, "", $1); print $1 }' <<<"$line")
		[[ $t != '**'* ]] || continue # a total line: made again from the rows
		pkg=$t
		[[ $t != "apiguard (root)" ]] || pkg=.
		s=$(slug "$pkg")
		n=$((n + 1))
		echo "$line" >"$dir/$s.import$(printf %02d "$n").row"
		echo "$pkg" >"$dir/$s.pkg"
		rowsof[$s]=$((${rowsof[$s]:-0} + 1))
		commitof[$s]=$(awk -F' [|] ' '{ print $3 }' <<<"$line")
	done < <(sed -n '/^| package |/,/^$/p' "$OUTPUT")
	while IFS= read -r line; do
		if [[ $line == '### '* ]]; then
			t=${line#'### '}
			pkg=$t
			[[ $t != "apiguard (root)" ]] || pkg=.
			cur=$(slug "$pkg")
			: >"$dir/$cur.import.lived"
			continue
		fi
		[[ -n $cur && $line == '- `'* ]] || continue
		commit=
		[[ ${rowsof[$cur]:-0} != 1 ]] || commit=${commitof[$cur]}
		if [[ -n $commit && ! $line =~ ^-\ \`[^\`]*\`\ \( ]]; then
			line=$(sed -E "s/^(- \`[^\`]*\`) /\1 ($commit) /" <<<"$line")
		fi
		echo "$line" >>"$dir/$cur.import.lived"
	done < <(sed -n '/^## Survivors (generated)$/,/^<!-- by hand -->$/p' "$OUTPUT")
	log "imported $n rows from $OUTPUT into $dir"
}

# write REPORT: prints it, or writes OUTPUT keeping its hand-kept section.
write() {
	if [[ -z $OUTPUT ]]; then
		cat "$1"
		return
	fi
	{
		cat "$1"
		echo
		if [[ -f $OUTPUT ]] && grep -q '^<!-- by hand -->$' "$OUTPUT"; then
			sed -n '/^<!-- by hand -->$/,$p' "$OUTPUT"
		else
			echo '<!-- by hand -->'
			echo
			echo '## Survivors explained (kept by hand)'
			echo
			echo 'For each survivor above: the test that now kills it, or why the mutant is equivalent.'
		fi
	} >"$work/out.md"
	mv "$work/out.md" "$OUTPUT"
	log "wrote $OUTPUT"
}

if [[ -n $import_to ]]; then
	import "$import_to"
	exit 0
fi
if ((${#report_only[@]} > 0)); then
	report "${report_only[@]}" >"$work/report.md"
	write "$work/report.md"
	exit 0
fi

for p in "${packages[@]}"; do
	[[ -d $p ]] || die "no package directory $p"
done
[[ -z $GREMLINS_LOG || ${#packages[@]} -eq 1 ]] || die "GREMLINS_LOG needs exactly one package"
commit=$(git rev-parse --short "$REF")
rowdir=${LOGS:-$work/rows}
mkdir -p "$rowdir"

if [[ -z $GREMLINS_LOG ]]; then
	log "installing gremlins ($GREMLINS)"
	GOBIN=$work/bin go install "$GREMLINS"
fi

# The vet step of every `go test` costs time and finds nothing new per mutant.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-vet=off"

for pkg in "${packages[@]}"; do
	name=${pkg#./}
	name=${name%/}
	[[ -n $name ]] || name=.
	s=$(slug "$name")
	src=$work/src-$s
	log "package $name: private clone at $commit"
	git clone -q --no-checkout "$repo" "$src"
	git -C "$src" checkout -q --detach "$commit"

	if [[ -n $GREMLINS_LOG ]]; then
		cp "$GREMLINS_LOG" "$rowdir/$s.log"
		complete=yes
		grep -q '^Mutation testing completed' "$rowdir/$s.log" || complete=no
		[[ -z ${PARTIAL:-} ]] || complete=no
		# "Mutation testing completed in 1 hour 11 minutes" (or "… 42 seconds"): whole minutes.
		secs=$(sed -nE '/^Mutation testing completed in/{
			s/.* ([0-9]+) hours?( ([0-9]+) minutes?)?.*/\1 \3/p
			t
			s/.* ([0-9]+) minutes?.*/0 \1/p
		}' "$rowdir/$s.log" | awk '{ print ($1 * 60 + $2) * 60 }')
		[[ -n $secs || -z ${MINUTES:-} ]] || secs=$((MINUTES * 60))
		rows "$name" "$rowdir/$s.log" "$src" "${secs:-0}" "$complete" "$commit" "$rowdir"
		continue
	fi

	# Keep only this package's tests (for the root: the top-level ones), and
	# mutate only the files of its own directory (no subpackage, no testdata).
	exclude=(-E '/')
	if [[ $name == . ]]; then
		find "$src" -mindepth 2 -name '*_test.go' -delete
		target=.
	else
		find "$src" -name '*_test.go' -not -path "$src/$name/*" -delete
		target=./$name
	fi
	# FILES: every other file of the package is excluded, by exact name.
	if [[ -n $FILES ]]; then
		for f in "$src/${name#.}"/*.go; do
			f=${f##*/}
			[[ $f == *_test.go || " $FILES " == *" $f "* ]] || exclude+=(-E "^${f//./\\.}\$")
		done
	fi

	cmd=("$work/bin/gremlins" unleash --workers "$WORKERS" "${exclude[@]}" "$target")
	if [[ -n $BUDGET ]]; then
		cmd=(timeout --signal INT --kill-after 60s "$BUDGET" "${cmd[@]}")
	fi
	log "package $name: gremlins unleash --workers $WORKERS ${exclude[*]} $target${BUDGET:+ (budget $BUDGET)}"
	start=$SECONDS
	complete=yes
	if ! (cd "$src" && "${cmd[@]}") >"$rowdir/$s.log" 2>&1; then
		complete=no
		log "package $name: gremlins stopped early (budget or error): $rowdir/$s.log"
	fi
	if ! grep -q 'Gathering coverage... done' "$rowdir/$s.log"; then
		tail -20 "$rowdir/$s.log" >&2
		complete=no
	fi
	rows "$name" "$rowdir/$s.log" "$src" $((SECONDS - start)) "$complete" "$commit" "$rowdir"
	log "package $name: $(cat "$rowdir/$s.row")"
done

report "$rowdir" >"$work/report.md"
write "$work/report.md"
