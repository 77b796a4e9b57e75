# shellcheck shell=bash
# Hostile names and symlinks: whatever an archive holds, restore never
# writes outside its target and never writes through a symlink.

# A stdin name that tries to climb out (or is absolute): backup either
# refuses it with a clear error or stores a sanitized name; either way a
# restore writes nothing outside the target.
test_hostile_stdin_names() {
	new_repo
	local name n=0 before
	for name in '../escape' 'a/../../escape2' "$T/abs-escape" '/etc/bkp-test-must-not-exist' '..' './../escape3'; do
		n=$((n + 1))
		before=$(find "$REPO" -path '*archives/*' -type f | wc -l)
		printf 'payload %s\n' "$n" | run_bkp backup -r "$REPO" --name hostile --stdin-name "$name" -
		if [ "$(_rc)" != 0 ]; then
			note "backup refused --stdin-name '$name'"
			expect_error_line '.' "backup --stdin-name '$name'"
			[ "$(find "$REPO" -path '*archives/*' -type f | wc -l)" = "$before" ] || fail "refused backup left an archive record"
			continue
		fi
		ID=$(head -n 1 "$BKPT_DIR/stdout")
		note "backup accepted --stdin-name '$name' as archive $ID"
		outside_snapshot "$BKPT_DIR/before" "rt$n"
		mkdir -p "rt$n/deep"
		run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target "rt$n/deep"
		outside_unchanged "$BKPT_DIR/before" "rt$n"
		[ ! -e /etc/bkp-test-must-not-exist ] || { rm -f /etc/bkp-test-must-not-exist; fail "restore wrote /etc/bkp-test-must-not-exist"; }
		[ -z "$(find "rt$n" -maxdepth 1 -type f)" ] || fail "restore of '$name' wrote beside the target: $(ls "rt$n")"
		if [ "$(_rc)" = 0 ]; then
			grep -arqx "payload $n" "rt$n/deep" || fail "restore of a sanitized '$name' succeeded but the data is not in the target"
		else
			expect_error_line '.' "restore of an archive with entry '$name'"
		fi
	done
	return 0
}

# Symlinks pointing outside (relative and absolute) are restored as
# symlinks, and a later restore never writes through them.
test_symlinks_escaping_target() {
	new_repo
	mkdir -p src outside h2/src/up h2/src/abs
	echo keep >outside/keep
	ln -s ../../outside src/up
	ln -s "$T/outside" src/abs
	ln -s ../../outside/newfile src/up-file
	echo plain >src/plain
	backup_id links src
	local a1=$ID
	# The second archive has real directories and files where the first
	# has symlinks (same archive paths: src/up/x, src/abs/y, src/up-file).
	echo x >h2/src/up/x
	echo y >h2/src/abs/y
	echo z >h2/src/up-file
	(cd h2 && backup_id dirs src) || exit 1
	local a2
	a2=$(head -n 1 "$BKPT_DIR/stdout")
	[ "$a2" != "$a1" ] || fail "test setup: second archive not found"

	outside_snapshot "$BKPT_DIR/before" rt
	run_bkp restore -r "$REPO" -k "$KEY" "$a1" --target rt
	expect_exit 0 "restore of an archive with escaping symlinks"
	outside_unchanged "$BKPT_DIR/before" rt
	[ -L rt/src/up ] && [ "$(readlink rt/src/up)" = ../../outside ] || fail "relative symlink not restored as a symlink"
	[ -L rt/src/abs ] && [ "$(readlink rt/src/abs)" = "$T/outside" ] || fail "absolute symlink not restored as a symlink"
	[ "$(cat rt/src/plain)" = plain ] || fail "plain file not restored"

	# Restoring the second archive over the first must not follow them.
	run_bkp restore -r "$REPO" -k "$KEY" "$a2" --target rt
	expect_error_line '.' "restore onto existing symlinks without --overwrite"
	outside_unchanged "$BKPT_DIR/before" rt
	run_bkp restore -r "$REPO" -k "$KEY" "$a2" --target rt --overwrite
	outside_unchanged "$BKPT_DIR/before" rt
	if [ "$(_rc)" = 0 ]; then
		[ -d rt/src/up ] && [ ! -L rt/src/up ] && [ "$(cat rt/src/up/x)" = x ] ||
			fail "restore --overwrite succeeded but src/up is not the archive's directory"
		[ ! -L rt/src/up-file ] && [ "$(cat rt/src/up-file)" = z ] ||
			fail "restore --overwrite succeeded but src/up-file is not the archive's file"
	else
		expect_error_line '.' "restore --overwrite onto escaping symlinks"
	fi
	return 0
}

# The target itself may be reached through a symlink the user chose; a
# target that does not exist yet is created; a target that is a file is
# refused.
test_restore_target_forms() {
	new_repo
	mkdir src
	echo hi >src/f
	backup_id t src
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target newtarget
	expect_exit 0 "restore into a target that does not exist"
	[ "$(cat newtarget/src/f)" = hi ] || fail "file not restored into a new target"
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target new/deeper/target
	expect_exit 0 "restore into a target whose parents do not exist either"
	[ "$(cat new/deeper/target/src/f)" = hi ] || fail "file not restored into a new target"
	mkdir real
	ln -s real viaLink
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target viaLink
	expect_exit 0 "restore into a target given as a symlink"
	[ "$(cat real/src/f)" = hi ] || fail "file not restored through the target symlink"
	echo file >afile
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target afile
	expect_error_line 'afile'
	[ "$(cat afile)" = file ] || fail "a target that is a file was changed"
}
