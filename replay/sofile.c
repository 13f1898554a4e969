/*
 * sofile.c - is `-a PATH` an allocator the worker can preload?  Checked
 * in the parent before any work, by reading the ELF file rather than
 * dlopen()ing it: a malloc library's constructors would run inside
 * heaptape, and one with initial-exec TLS may not dlopen at all although
 * LD_PRELOAD takes it.  Without the check a bad path is found by every
 * worker, after the plan is built, as a column of failures.
 */
#include <elf.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../convert/cli.h"
#include "run.h"

#if defined(__x86_64__)
#define MACHINE EM_X86_64
#elif defined(__aarch64__)
#define MACHINE EM_AARCH64
#elif defined(__i386__)
#define MACHINE EM_386
#endif
#if __BYTE_ORDER == __LITTLE_ENDIAN
#define DATA ELFDATA2LSB
#else
#define DATA ELFDATA2MSB
#endif
#if __SIZEOF_POINTER__ == 8
#define CLASS ELFCLASS64
#else
#define CLASS ELFCLASS32
#endif

/* Why the ELF image f[0..n) cannot be this machine's shared object, or
 * NULL. */
static const char *not_so(const unsigned char *f, size_t n)
{
	const ElfW(Ehdr) *e = (const ElfW(Ehdr) *)f;

	if (n < sizeof(*e) || memcmp(f, ELFMAG, SELFMAG))
		return "not an ELF file";
	if (f[EI_CLASS] != CLASS || f[EI_DATA] != DATA)
		return "built for another word size or byte order";
#ifdef MACHINE
	if (e->e_machine != MACHINE)
		return "built for another processor";
#endif
	if (e->e_type != ET_DYN)
		return "not a shared object";
	return NULL;
}

/* 1 if the dynamic symbol table defines malloc and free, 0 if not, -1
 * if it has no section table to tell (then the worker finds out). */
static int defines_malloc(const unsigned char *f, size_t n)
{
	const ElfW(Ehdr) *e = (const ElfW(Ehdr) *)f;
	const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(f + e->e_shoff);
	int found = 0;

	if (!e->e_shoff || e->e_shentsize != sizeof(*sh) ||
	    e->e_shoff > n || (n - e->e_shoff) / sizeof(*sh) < e->e_shnum)
		return -1;
	for (unsigned i = 0; i < e->e_shnum; i++) {
		const ElfW(Shdr) *str = &sh[sh[i].sh_link];
		const ElfW(Sym) *sym = (const ElfW(Sym) *)(f + sh[i].sh_offset);
		size_t nsym = sh[i].sh_size / sizeof(*sym);

		if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= e->e_shnum ||
		    sh[i].sh_offset > n || sh[i].sh_size > n - sh[i].sh_offset ||
		    str->sh_offset > n || str->sh_size > n - str->sh_offset)
			continue;
		for (size_t k = 0; k < nsym; k++) {
			const char *name = (const char *)f + str->sh_offset +
					   sym[k].st_name;
			size_t left = str->sh_size - sym[k].st_name;

			if (sym[k].st_shndx == SHN_UNDEF ||
			    sym[k].st_name >= str->sh_size)
				continue;
			if (!strncmp(name, "malloc", left) && left > 6)
				found |= 1;
			else if (!strncmp(name, "free", left) && left > 4)
				found |= 2;
		}
		return found == 3;
	}
	return -1;
}

int alloc_check(const struct alloc_spec *a)
{
	struct stat st;
	const char *why = NULL;
	void *f = MAP_FAILED;
	int fd, has = -1;

	if (!a->path[0])
		return 0;
	fd = open(a->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return cli_error("allocator '%s': %s", a->path,
				 strerror(errno));
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0)
		why = "not a shared object";
	else
		f = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd,
			 0);
	close(fd);
	if (!why && f == MAP_FAILED)
		return cli_error("allocator '%s': %s", a->path,
				 strerror(errno));
	if (!why && !(why = not_so(f, (size_t)st.st_size)))
		has = defines_malloc(f, (size_t)st.st_size);
	if (f != MAP_FAILED)
		munmap(f, (size_t)st.st_size);
	if (why)
		return cli_error("allocator '%s': %s, so it cannot be "
				 "preloaded", a->path, why);
	if (!has)
		return cli_error("allocator '%s' does not define malloc and "
				 "free: not a malloc library", a->path);
	return 0;
}
