/*
 * exits: returns 0 at once. xtask links it with interpreters (PT_INTERP) that are
 * missing, not ELF, or shorter than an ELF header, for the boot test of exec's errors
 * there (the program itself never gets to run).
 */
int main(void)
{
	return 0;
}
