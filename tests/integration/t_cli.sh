# shellcheck shell=bash
# Command line: help, version, usage errors, exit codes, cron output, keys.

test_version_and_help() {
	run_bkp --version
	expect_exit 0
	expect_stdout_match "$(sed 's/\./\\./g' "$(dirname "$BKPT_LIB")/../../VERSION")"
	run_bkp --help
	expect_exit 0
	local cmd
	for cmd in keygen init backup list restore verify; do
		expect_stdout_match "$cmd"
	done
	for cmd in keygen init backup list restore verify; do
		run_bkp "$cmd" --help
		expect_exit 0 "$cmd --help"
		[ -n "$OUT" ] || fail "'bkp $cmd --help' printed nothing on stdout"
	done
	run_bkp backup --help
	for opt in --name --level --threads --exclude --stdin-name --quiet --json; do
		expect_stdout_match "$opt"
	done
	run_bkp restore --help
	for opt in --target --include --overwrite; do
		expect_stdout_match "$opt"
	done
}

test_usage_errors_exit_2() {
	new_repo
	mkdir src
	run_bkp
	expect_exit 2 "no command"
	run_bkp frobnicate
	expect_exit 2 "unknown command"
	expect_one_line_error 'frobnicate'
	run_bkp backup -r "$REPO" --name x --no-such-option src
	expect_exit 2 "unknown option"
	expect_one_line_error 'no-such-option'
	run_bkp backup -r "$REPO" src
	expect_exit 2 "backup without --name"
	expect_one_line_error 'name'
	run_bkp backup -r "$REPO" --name x
	expect_exit 2 "backup without a path"
	expect_one_line_error '.'
	run_bkp backup -r "$REPO" --name x --level notanumber src
	expect_exit 2 "--level notanumber"
	expect_one_line_error 'notanumber|level'
	run_bkp restore -r "$REPO" -k "$KEY" latest
	expect_exit 2 "restore without --target"
	expect_one_line_error 'target'
	run_bkp verify -r "$REPO"
	expect_exit 2 "verify without archive or --all"
	expect_one_line_error '.'
	run_bkp init -r "$T/repo2" --recipient "$KEYPUB" --cipher rot13
	expect_exit 2 "unknown cipher"
	expect_one_line_error 'rot13'
	[ ! -e "$T/repo2/config" ] || fail "init with a bad cipher created a repository"
	ls "$REPO/archives" 2>/dev/null | grep -aq . && fail "a refused backup left an archive record"
	return 0
}

test_no_repository_exit_10() {
	new_repo
	mkdir src empty
	echo x >src/f
	run_bkp backup -r "$T/nowhere" --name x src
	expect_exit 10 "backup to a missing repository"
	expect_error_line 'nowhere'
	[ ! -e "$T/nowhere" ] || fail "backup created '$T/nowhere'"
	run_bkp backup -r "$T/empty" --name x src
	expect_exit 10 "backup to an empty directory"
	run_bkp list -r "$T/nowhere"
	expect_exit 10 "list of a missing repository"
	run_bkp verify -r "$T/nowhere" --all
	expect_exit 10 "verify of a missing repository"
	run_bkp restore -r "$T/nowhere" -k "$KEY" latest --target "$T/r"
	expect_exit 10 "restore from a missing repository"
	[ ! -e "$T/r" ] || fail "restore from a missing repository created the target"
	# No repository named at all: a usage error or "no repository".
	run_bkp backup --name x src
	case $(_rc) in 2 | 10) ;; *) fail "backup with neither -r nor BKP_REPOSITORY exited $(_rc), expected 2 or 10" ;; esac
	expect_error_line 'repositor|-r'
	return 0
}

test_environment_variables() {
	new_repo
	mkdir src
	echo hello >src/f
	BKP_REPOSITORY=$REPO run_bkp backup --name env src
	expect_exit 0 "backup with BKP_REPOSITORY"
	BKP_REPOSITORY=$REPO BKP_KEY_FILE=$KEY run_bkp restore latest --target r
	expect_exit 0 "restore with BKP_REPOSITORY and BKP_KEY_FILE"
	cmp src/f r/src/f || fail "restored file differs"
	printf '%s\nsecond line ignored\n' "$PASS" >pwfile
	(
		unset BKP_PASSPHRASE
		BKP_PASSPHRASE_FILE=$T/pwfile run_bkp verify -r "$REPO" -k "$KEY" latest
		expect_exit 0 "verify with only BKP_PASSPHRASE_FILE set"
	) || exit 1
}

test_no_passphrase_no_tty_exit_2() {
	new_repo
	mkdir src
	echo hi >src/f
	backup_id n src
	unset BKP_PASSPHRASE BKP_PASSPHRASE_FILE
	run_bkp keygen "$T/other"
	expect_exit 2 "keygen without a passphrase source"
	expect_error_line 'PASSPHRASE'
	[ ! -e "$T/other" ] && [ ! -e "$T/other.pub" ] || fail "keygen without passphrase wrote a key file"
	run_bkp restore -r "$REPO" -k "$KEY" latest --target r
	expect_exit 2 "restore without a passphrase source"
	[ ! -e r ] || [ -z "$(ls -A r)" ] || fail "restore without passphrase wrote into the target"
}

test_keygen_file_mode_and_refuses_overwrite() {
	run_bkp keygen --comment 'ops key' "$T/k"
	expect_exit 0
	expect_stdout_match '[0-9a-f]{16,}'
	[ -f k ] && [ -f k.pub ] || fail "keygen did not write k and k.pub"
	[ "$(stat -c %a k)" = 600 ] || fail "secret key file mode is $(stat -c %a k), not 600"
	json_valid k || fail "secret key file is not JSON"
	json_valid k.pub || fail "public key file is not JSON"
	local sum pubsum
	sum=$(sha256sum <k)
	pubsum=$(sha256sum <k.pub)
	run_bkp keygen "$T/k"
	expect_error_line '/k(\.pub)?\b'
	[ "$(sha256sum <k)" = "$sum" ] || fail "refused keygen changed the secret key file"
	[ "$(sha256sum <k.pub)" = "$pubsum" ] || fail "refused keygen changed the public key file"
	# Only the .pub exists: still refused, nothing written.
	echo keep >k2.pub
	run_bkp keygen "$T/k2"
	expect_fail "keygen when FILE.pub exists"
	[ ! -e k2 ] || fail "keygen wrote k2 although k2.pub existed"
	[ "$(cat k2.pub)" = keep ] || fail "keygen overwrote k2.pub"
	# A symlink at the key path is not followed.
	ln -s "$T/target-of-link" k3
	run_bkp keygen "$T/k3"
	expect_fail "keygen onto a symlink"
	[ ! -e "$T/target-of-link" ] || fail "keygen wrote through a symlink"
	grep -aq "$PASS" k && fail "secret key file contains the passphrase"
	return 0
}

test_backup_needs_no_secret_key() {
	new_repo
	make_dataset src
	mv "$KEY" "$T/key.away"
	unset BKP_KEY_FILE BKP_PASSPHRASE BKP_PASSPHRASE_FILE
	backup_id nokey src
	mv "$T/key.away" "$KEY"
	BKP_PASSPHRASE=$PASS run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target r
	expect_exit 0
	tree_equal src r/src
}

# From cron: no TTY; stdout is only the id, stderr one summary line.
test_cron_output_is_quiet() {
	new_repo
	make_dataset src
	run_bkp backup -r "$REPO" --name cron src
	expect_exit 0
	[ "$(wc -l <"$BKPT_DIR/stdout")" -eq 1 ] || fail "backup stdout is not exactly one line"
	expect_stdout_match '^[0-9a-f]{32}$'
	[ "$(wc -l <"$BKPT_DIR/stderr")" -eq 1 ] || fail "backup stderr (no TTY) is not exactly one summary line"
	grep -aq $'\r' "$BKPT_DIR/stderr" && fail "progress (carriage returns) on stderr without a TTY"
	expect_stderr_match '[0-9]'
	run_bkp backup -r "$REPO" --name cron -q src
	expect_exit 0
	[ ! -s "$BKPT_DIR/stderr" ] || fail "backup -q wrote to stderr: $ERR"
	expect_stdout_match '^[0-9a-f]{32}$'
	run_bkp backup -r "$REPO" --name cron --quiet src
	expect_exit 0
	[ ! -s "$BKPT_DIR/stderr" ] || fail "backup --quiet wrote to stderr: $ERR"
	run_bkp restore -r "$REPO" -k "$KEY" latest --target r -q
	expect_exit 0
	[ ! -s "$BKPT_DIR/stderr" ] || fail "restore -q wrote to stderr: $ERR"
	[ ! -s "$BKPT_DIR/stdout" ] || fail "restore -q wrote to stdout: $OUT"
	run_bkp verify -r "$REPO" -k "$KEY" --all -q
	expect_exit 0
	[ ! -s "$BKPT_DIR/stderr" ] || fail "verify -q wrote to stderr: $ERR"
	run_bkp verify -r "$REPO" --all -q
	expect_exit 0
	[ ! -s "$BKPT_DIR/stderr" ] || fail "key-less verify -q wrote to stderr: $ERR"
	# --progress forces progress output even without a TTY; stdout stays the id.
	run_bkp backup -r "$REPO" --name cron --progress src
	expect_exit 0
	[ "$(wc -l <"$BKPT_DIR/stdout")" -eq 1 ] || fail "backup --progress changed stdout"
	[ -s "$BKPT_DIR/stderr" ] || fail "backup --progress printed nothing on stderr"
	return 0
}

test_json_outputs() {
	new_repo
	make_dataset src
	run_bkp backup -r "$REPO" --name j --json src
	expect_exit 0
	json_valid "$BKPT_DIR/stdout" || fail "backup --json stdout is not JSON: $OUT"
	local id
	id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$BKPT_DIR/stdout") ||
		fail "backup --json has no \"id\""
	[[ $id =~ ^[0-9a-f]{32}$ ]] || fail "backup --json id '$id' is not 32 hex chars"
	run_bkp list -r "$REPO" --json
	expect_exit 0
	json_valid "$BKPT_DIR/stdout" || fail "list --json is not JSON"
	python3 - "$BKPT_DIR/stdout" "$id" <<'EOF' || fail "list --json does not describe the archive"
import json, sys
a = json.load(open(sys.argv[1]))
assert isinstance(a, list) and len(a) == 1, a
o = a[0]
for k in ("id", "name", "created", "files", "bytes"):
    assert k in o, k
assert o["id"] == sys.argv[2] and o["name"] == "j", o
assert o["files"] > 10 and o["bytes"] > 200000, o
EOF
	run_bkp verify -r "$REPO" -k "$KEY" --all --json
	expect_exit 0
	json_valid "$BKPT_DIR/stdout" || fail "verify -k --json is not JSON: $OUT"
	run_bkp verify -r "$REPO" --all --json
	expect_exit 0
	json_valid "$BKPT_DIR/stdout" || fail "key-less verify --json is not JSON: $OUT"
	run_bkp restore -r "$REPO" -k "$KEY" "$id" --target r --json
	expect_exit 0
	json_valid "$BKPT_DIR/stdout" || fail "restore --json is not JSON: $OUT"
	tree_equal src r/src
	# An empty repository lists as an empty JSON array.
	run_bkp init -r "$T/repo2" --recipient "$KEYPUB"
	expect_exit 0
	run_bkp list -r "$T/repo2" --json
	expect_exit 0
	python3 -c 'import json,sys; assert json.load(open(sys.argv[1])) == []' "$BKPT_DIR/stdout" ||
		fail "list --json of an empty repository is not []"
}

test_output_never_contains_passphrase() {
	export PASS='Zq9-unmistakable-passphrase-Xk2'
	export BKP_PASSPHRASE=$PASS
	new_repo
	make_dataset src
	backup_id p src
	run_bkp list -r "$REPO"
	run_bkp list -r "$REPO" --json
	run_bkp restore -r "$REPO" -k "$KEY" latest --target r
	run_bkp verify -r "$REPO" -k "$KEY" --all --json
	run_bkp verify -r "$REPO" -k "$KEY" --all
	BKP_PASSPHRASE="${PASS}-wrong" run_bkp restore -r "$REPO" -k "$KEY" latest --target r2
	expect_exit 12
	BKP_PASSPHRASE="${PASS}-wrong" run_bkp verify -r "$REPO" -k "$KEY" --all --json
	run_bkp keygen "$KEY"
	grep -aqF -- "Zq9-unmistakable" "$BKPT_DIR/all_output" &&
		fail "the passphrase (or part of it) appears in bkp's output"
	grep -arqF -- "$PASS" "$REPO" "$KEY" "$KEYPUB" "$T/state" "$T/home" 2>/dev/null &&
		fail "the passphrase is stored in clear in the repository, key or state"
	return 0
}
