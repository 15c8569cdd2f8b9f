/*
 * cpu.h — what the engine asks about the CPU it runs on (cpu.c).
 */
#ifndef PD_ENGINE_CPU_H
#define PD_ENGINE_CPU_H

/* 1 on an Intel CPU (CPUID vendor "GenuineIntel"): some shape rules were
 * measured to differ between the project's Intel and AMD machines */
int pd_cpu_is_intel(void);

#endif
