/*
 * LD_PRELOAD shim: this process, its threads and the processes it starts see an older x86 CPU than the one they
 * run on, so that the libraries' run-time kernel choice (ONNX Runtime's MLAS, oneDNN, torch, numpy) is the one
 * they make on that older CPU. Used by bench/emulate_cpu.py; see docs/performance.md, "Other CPUs, emulated".
 *
 * How: CPUID faulting (arch_prctl ARCH_SET_CPUID, Linux >= 4.12, flag cpuid_fault in /proc/cpuinfo) makes every
 * cpuid instruction raise SIGSEGV; the handler runs the real cpuid, clears the feature bits the profile does not
 * have and resumes after the instruction. /proc/cpuinfo is shown with the same flags removed and the model name
 * marked "(emulated <profile>)", so recorded CPU facts and cached measurements name the emulated CPU.
 *
 * Profiles (SKILLMATCH_CPU_PROFILE): avx2 (AVX2/FMA, no AVX-512, no VNNI, no AMX: e.g. AMD Zen 2/3, Intel
 * Haswell-Broadwell), avx512 (AVX-512 F/CD/BW/DQ/VL without VNNI: Skylake-SP), avx512-vnni (+ AVX-512 VNNI:
 * Cascade Lake). Every profile removes AMX, AVX-VNNI, BF16/FP16 and the later AVX-512 extensions.
 *
 * What it does not change: caches, core count, clock, micro-architecture. Kernel choice follows the ISA; speed
 * per instruction stays this CPU's.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

enum { EAX, EBX, ECX, EDX };
enum { GONE, AVX512, VNNI }; /* kept by: no profile / avx512 and avx512-vnni / avx512-vnni */

struct feature {
    unsigned leaf, sub, reg, bit, kept_by;
    const char *flag; /* its name in /proc/cpuinfo, or NULL */
};

static const struct feature FEATURES[] = {
    {7, 0, EBX, 16, AVX512, "avx512f"},       {7, 0, EBX, 17, AVX512, "avx512dq"},
    {7, 0, EBX, 21, GONE, "avx512ifma"},      {7, 0, EBX, 26, GONE, "avx512pf"},
    {7, 0, EBX, 27, GONE, "avx512er"},        {7, 0, EBX, 28, AVX512, "avx512cd"},
    {7, 0, EBX, 30, AVX512, "avx512bw"},      {7, 0, EBX, 31, AVX512, "avx512vl"},
    {7, 0, ECX, 1, GONE, "avx512vbmi"},       {7, 0, ECX, 6, GONE, "avx512_vbmi2"},
    {7, 0, ECX, 11, VNNI, "avx512_vnni"},     {7, 0, ECX, 12, GONE, "avx512_bitalg"},
    {7, 0, ECX, 14, GONE, "avx512_vpopcntdq"}, {7, 0, EDX, 2, GONE, "avx512_4vnniw"},
    {7, 0, EDX, 3, GONE, "avx512_4fmaps"},    {7, 0, EDX, 8, GONE, "avx512_vp2intersect"},
    {7, 0, EDX, 22, GONE, "amx_bf16"},        {7, 0, EDX, 23, GONE, "avx512_fp16"},
    {7, 0, EDX, 24, GONE, "amx_tile"},        {7, 0, EDX, 25, GONE, "amx_int8"},
    {7, 1, EAX, 4, GONE, "avx_vnni"},         {7, 1, EAX, 5, GONE, "avx512_bf16"},
    {7, 1, EAX, 21, GONE, "amx_fp16"},        {7, 1, EAX, 23, GONE, "avx_ifma"},
    {7, 1, EDX, 4, GONE, "avx_vnni_int8"},    {7, 1, EDX, 5, GONE, "avx_ne_convert"},
    {7, 1, EDX, 8, GONE, "amx_complex"},      {7, 1, EDX, 10, GONE, "avx_vnni_int16"},
    {7, 1, EDX, 19, GONE, "avx10"},
    /* XSAVE state components: opmask, ZMM_Hi256, Hi16_ZMM (AVX-512), tile config and data (AMX) */
    {0xd, 0, EAX, 5, AVX512, NULL},           {0xd, 0, EAX, 6, AVX512, NULL},
    {0xd, 0, EAX, 7, AVX512, NULL},           {0xd, 0, EAX, 17, GONE, NULL},
    {0xd, 0, EAX, 18, GONE, NULL},
};
#define N_FEATURES (sizeof FEATURES / sizeof FEATURES[0])

static unsigned level = GONE; /* what the profile keeps: GONE (avx2), AVX512 or VNNI */
static const char *profile = "avx2";
static struct sigaction app_segv; /* the SIGSEGV handler the program asked for; ours stays installed */
static char fake_cpuinfo[96];
static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);

static int kept(const struct feature *f) { return f->kept_by != GONE && f->kept_by <= level; }

static long set_cpuid(int enabled) { return syscall(SYS_arch_prctl, ARCH_SET_CPUID, enabled); }

static void masked_cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
    set_cpuid(1);
    __asm__ volatile("cpuid" : "=a"(r[EAX]), "=b"(r[EBX]), "=c"(r[ECX]), "=d"(r[EDX]) : "a"(leaf), "c"(sub));
    set_cpuid(0);
    if (leaf == 0x1d || leaf == 0x1e || leaf == 0x24) { /* AMX tile and TMUL info, AVX10 */
        r[EAX] = r[EBX] = r[ECX] = r[EDX] = 0;
        return;
    }
    for (size_t i = 0; i < N_FEATURES; i++) {
        const struct feature *f = &FEATURES[i];
        if (f->leaf == leaf && f->sub == sub && !kept(f)) r[f->reg] &= ~(1u << f->bit);
    }
}

static void on_segv(int sig, siginfo_t *info, void *context) {
    ucontext_t *uc = (ucontext_t *)context;
    greg_t *g = uc->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *)g[REG_RIP];
    /* a fault fetching the instruction itself (a jump to a bad address) is not a cpuid: do not read there */
    int fetch_fault = info && info->si_addr == (void *)ip;
    if (ip && !fetch_fault && ip[0] == 0x0f && ip[1] == 0xa2) {
        unsigned r[4];
        masked_cpuid((unsigned)g[REG_RAX], (unsigned)g[REG_RCX], r);
        g[REG_RAX] = r[EAX];
        g[REG_RBX] = r[EBX];
        g[REG_RCX] = r[ECX];
        g[REG_RDX] = r[EDX];
        g[REG_RIP] += 2;
        return;
    }
    /* a real fault: what the program asked for, else the default (the instruction faults again and kills) */
    if ((app_segv.sa_flags & SA_SIGINFO) && app_segv.sa_sigaction) {
        app_segv.sa_sigaction(sig, info, context);
    } else if (app_segv.sa_handler != SIG_DFL && app_segv.sa_handler != SIG_IGN && app_segv.sa_handler) {
        app_segv.sa_handler(sig);
    } else {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        real_sigaction(SIGSEGV, &dfl, NULL);
    }
}

/* The program's own SIGSEGV handlers (Python's faulthandler, ...) are kept aside and called for real faults. */
int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    if (!real_sigaction)
        real_sigaction = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
    if (sig != SIGSEGV || !fake_cpuinfo[0]) return real_sigaction(sig, act, old);
    if (old) *old = app_segv;
    if (act) app_segv = *act;
    return 0;
}

/* signal(SIGSEGV, ...) does not go through sigaction's symbol in glibc, so it is kept aside here too. */
sighandler_t signal(int sig, sighandler_t handler) {
    static sighandler_t (*real)(int, sighandler_t);
    if (!real) real = (sighandler_t(*)(int, sighandler_t))dlsym(RTLD_NEXT, "signal");
    if (sig != SIGSEGV || !fake_cpuinfo[0]) return real(sig, handler);
    sighandler_t old = (app_segv.sa_flags & SA_SIGINFO) ? SIG_DFL : app_segv.sa_handler;
    memset(&app_segv, 0, sizeof app_segv);
    app_segv.sa_handler = handler;
    return old;
}

static int dropped_flag(const char *word) {
    for (size_t i = 0; i < N_FEATURES; i++)
        if (FEATURES[i].flag && !kept(&FEATURES[i]) && strcmp(FEATURES[i].flag, word) == 0) return 1;
    return 0;
}

/* /proc/cpuinfo as the emulated CPU shows it, in an anonymous memory file of this process's own (nothing to clean
 * up, whatever way the process ends); opened again through /proc/self/fd. */
static int write_fake_cpuinfo(void) {
    FILE *in = fopen("/proc/cpuinfo", "r");
    if (!in) return -1;
    int fd = memfd_create("skillmatch-cpuinfo", MFD_CLOEXEC);
    FILE *out = fd >= 0 ? fdopen(dup(fd), "w") : NULL;
    if (!out) {
        fclose(in);
        return -1;
    }
    char line[16384];
    while (fgets(line, sizeof line, in)) {
        if (strncmp(line, "model name", 10) == 0) {
            line[strcspn(line, "\n")] = 0;
            fprintf(out, "%s (emulated %s)\n", line, profile);
        } else if (strncmp(line, "flags", 5) == 0 && strchr(line, ':')) {
            char *colon = strchr(line, ':');
            fwrite(line, 1, (size_t)(colon + 1 - line), out);
            for (char *w = strtok(colon + 1, " \n"); w; w = strtok(NULL, " \n"))
                if (!dropped_flag(w)) fprintf(out, " %s", w);
            fputc('\n', out);
        } else {
            fputs(line, out);
        }
    }
    fclose(in);
    fclose(out);
    snprintf(fake_cpuinfo, sizeof fake_cpuinfo, "/proc/self/fd/%d", fd);
    return 0;
}

static const char *redirect(const char *path) {
    return fake_cpuinfo[0] && path && strcmp(path, "/proc/cpuinfo") == 0 ? fake_cpuinfo : path;
}

#define OPEN_LIKE(name)                                                               \
    int name(const char *path, int flags, ...) {                                      \
        static int (*real)(const char *, int, ...);                                   \
        if (!real) real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, #name);   \
        va_list ap;                                                                   \
        va_start(ap, flags);                                                          \
        int mode = va_arg(ap, int);                                                   \
        va_end(ap);                                                                   \
        return real(redirect(path), flags, mode);                                     \
    }
#define OPENAT_LIKE(name)                                                                  \
    int name(int dir, const char *path, int flags, ...) {                                  \
        static int (*real)(int, const char *, int, ...);                                   \
        if (!real) real = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, #name);   \
        va_list ap;                                                                        \
        va_start(ap, flags);                                                               \
        int mode = va_arg(ap, int);                                                        \
        va_end(ap);                                                                        \
        return real(dir, redirect(path), flags, mode);                                     \
    }
#define FOPEN_LIKE(name)                                                                   \
    FILE *name(const char *path, const char *mode) {                                       \
        static FILE *(*real)(const char *, const char *);                                  \
        if (!real) real = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, #name); \
        return real(redirect(path), mode);                                                 \
    }
OPEN_LIKE(open)
OPEN_LIKE(open64)
OPENAT_LIKE(openat)
OPENAT_LIKE(openat64)
FOPEN_LIKE(fopen)
FOPEN_LIKE(fopen64)

__attribute__((constructor)) static void start(void) {
    const char *name = getenv("SKILLMATCH_CPU_PROFILE");
    if (!name || !*name || strcmp(name, "avx2") == 0) {
        level = GONE, profile = "avx2";
    } else if (strcmp(name, "avx512") == 0) {
        level = AVX512, profile = "avx512";
    } else if (strcmp(name, "avx512-vnni") == 0) {
        level = VNNI, profile = "avx512-vnni";
    } else {
        fprintf(stderr, "older_cpu: unknown SKILLMATCH_CPU_PROFILE %s (avx2, avx512, avx512-vnni)\n", name);
        _exit(97);
    }
    if (write_fake_cpuinfo() != 0) {
        fputs("older_cpu: cannot make the emulated /proc/cpuinfo (memfd_create)\n", stderr);
        _exit(97);
    }
    real_sigaction = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
    struct sigaction ours;
    memset(&ours, 0, sizeof ours);
    ours.sa_sigaction = on_segv;
    ours.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&ours.sa_mask);
    real_sigaction(SIGSEGV, &ours, NULL);
    if (set_cpuid(0) != 0) {
        fputs("older_cpu: this machine has no CPUID faulting (flag cpuid_fault), so it cannot emulate a CPU\n", stderr);
        _exit(97);
    }
}
