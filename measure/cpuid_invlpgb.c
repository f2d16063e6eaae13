/* CPUID Fn8000_0008 as Linux cpu_detect_tlb_amd (arch/x86/kernel/cpu/amd.c) reads it: EBX[3] INVLPGB,
 * EDX[15:0] + 1 = invlpgb_count_max. Build and run: cc -O2 -o /tmp/cpuid_invlpgb measure/cpuid_invlpgb.c && /tmp/cpuid_invlpgb */
#include <cpuid.h>
#include <stdio.h>
int main(void){unsigned a,b,c,d; if(!__get_cpuid(0x80000000,&a,&b,&c,&d)){puts("no ext");return 1;}
printf("max ext leaf %#x\n",a);
if(a>=0x80000008){__get_cpuid(0x80000008,&a,&b,&c,&d);printf("80000008: eax=%#x ebx=%#x ecx=%#x edx=%#x invlpgb_bit(ebx3)=%u edx[15:0]=%u\n",a,b,c,d,(b>>3)&1,d&0xffff);}
__get_cpuid(0,&a,&b,&c,&d); char v[13]; *(unsigned*)v=b;*(unsigned*)(v+4)=d;*(unsigned*)(v+8)=c;v[12]=0;printf("vendor %s\n",v);return 0;}
