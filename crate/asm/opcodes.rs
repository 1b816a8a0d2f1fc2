//! Opcode tables: the iced-x86 [`Code`] of every form of each operation.
//!
//! Each row lists the forms of one operation, in the same order for every row, so `encode.rs`
//! picks a form by column (register or memory, operand size, immediate size) and an operation by
//! row. The rows follow the opcode maps of the Intel manuals (volume 2, appendix A).

use iced_x86::Code;

/// ALU rows: rm8_r8, rm16_r16, rm32_r32, r8_rm8, r16_rm16, r32_rm32, AL_imm8, AX_imm16, EAX_imm32,
/// rm8_imm8, rm16_imm16, rm32_imm32, rm16_imm8, rm32_imm8.
#[rustfmt::skip]
pub const ALU: [[Code; 14]; 8] = {
    use Code::*;
    [
        [Add_rm8_r8, Add_rm16_r16, Add_rm32_r32, Add_r8_rm8, Add_r16_rm16, Add_r32_rm32, Add_AL_imm8, Add_AX_imm16, Add_EAX_imm32, Add_rm8_imm8, Add_rm16_imm16, Add_rm32_imm32, Add_rm16_imm8, Add_rm32_imm8],
        [Or_rm8_r8, Or_rm16_r16, Or_rm32_r32, Or_r8_rm8, Or_r16_rm16, Or_r32_rm32, Or_AL_imm8, Or_AX_imm16, Or_EAX_imm32, Or_rm8_imm8, Or_rm16_imm16, Or_rm32_imm32, Or_rm16_imm8, Or_rm32_imm8],
        [Adc_rm8_r8, Adc_rm16_r16, Adc_rm32_r32, Adc_r8_rm8, Adc_r16_rm16, Adc_r32_rm32, Adc_AL_imm8, Adc_AX_imm16, Adc_EAX_imm32, Adc_rm8_imm8, Adc_rm16_imm16, Adc_rm32_imm32, Adc_rm16_imm8, Adc_rm32_imm8],
        [Sbb_rm8_r8, Sbb_rm16_r16, Sbb_rm32_r32, Sbb_r8_rm8, Sbb_r16_rm16, Sbb_r32_rm32, Sbb_AL_imm8, Sbb_AX_imm16, Sbb_EAX_imm32, Sbb_rm8_imm8, Sbb_rm16_imm16, Sbb_rm32_imm32, Sbb_rm16_imm8, Sbb_rm32_imm8],
        [And_rm8_r8, And_rm16_r16, And_rm32_r32, And_r8_rm8, And_r16_rm16, And_r32_rm32, And_AL_imm8, And_AX_imm16, And_EAX_imm32, And_rm8_imm8, And_rm16_imm16, And_rm32_imm32, And_rm16_imm8, And_rm32_imm8],
        [Sub_rm8_r8, Sub_rm16_r16, Sub_rm32_r32, Sub_r8_rm8, Sub_r16_rm16, Sub_r32_rm32, Sub_AL_imm8, Sub_AX_imm16, Sub_EAX_imm32, Sub_rm8_imm8, Sub_rm16_imm16, Sub_rm32_imm32, Sub_rm16_imm8, Sub_rm32_imm8],
        [Xor_rm8_r8, Xor_rm16_r16, Xor_rm32_r32, Xor_r8_rm8, Xor_r16_rm16, Xor_r32_rm32, Xor_AL_imm8, Xor_AX_imm16, Xor_EAX_imm32, Xor_rm8_imm8, Xor_rm16_imm16, Xor_rm32_imm32, Xor_rm16_imm8, Xor_rm32_imm8],
        [Cmp_rm8_r8, Cmp_rm16_r16, Cmp_rm32_r32, Cmp_r8_rm8, Cmp_r16_rm16, Cmp_r32_rm32, Cmp_AL_imm8, Cmp_AX_imm16, Cmp_EAX_imm32, Cmp_rm8_imm8, Cmp_rm16_imm16, Cmp_rm32_imm32, Cmp_rm16_imm8, Cmp_rm32_imm8],
    ]
};

/// One-operand rows (inc dec not neg mul div idiv imul): rm8, rm16, rm32.
#[rustfmt::skip]
pub const UNARY: [[Code; 3]; 8] = {
    use Code::*;
    [
        [Inc_rm8, Inc_rm16, Inc_rm32], [Dec_rm8, Dec_rm16, Dec_rm32], [Not_rm8, Not_rm16, Not_rm32],
        [Neg_rm8, Neg_rm16, Neg_rm32], [Mul_rm8, Mul_rm16, Mul_rm32], [Div_rm8, Div_rm16, Div_rm32],
        [Idiv_rm8, Idiv_rm16, Idiv_rm32], [Imul_rm8, Imul_rm16, Imul_rm32],
    ]
};

/// Shift rows (rol ror rcl rcr shl shr sal sar): by 1 (8/16/32), by %cl (8/16/32), by imm8 (8/16/32).
/// `sal` is `shl`: GNU as emits /4 for both.
#[rustfmt::skip]
pub const SHIFT: [[Code; 9]; 8] = {
    use Code::*;
    [
        [Rol_rm8_1, Rol_rm16_1, Rol_rm32_1, Rol_rm8_CL, Rol_rm16_CL, Rol_rm32_CL, Rol_rm8_imm8, Rol_rm16_imm8, Rol_rm32_imm8],
        [Ror_rm8_1, Ror_rm16_1, Ror_rm32_1, Ror_rm8_CL, Ror_rm16_CL, Ror_rm32_CL, Ror_rm8_imm8, Ror_rm16_imm8, Ror_rm32_imm8],
        [Rcl_rm8_1, Rcl_rm16_1, Rcl_rm32_1, Rcl_rm8_CL, Rcl_rm16_CL, Rcl_rm32_CL, Rcl_rm8_imm8, Rcl_rm16_imm8, Rcl_rm32_imm8],
        [Rcr_rm8_1, Rcr_rm16_1, Rcr_rm32_1, Rcr_rm8_CL, Rcr_rm16_CL, Rcr_rm32_CL, Rcr_rm8_imm8, Rcr_rm16_imm8, Rcr_rm32_imm8],
        [Shl_rm8_1, Shl_rm16_1, Shl_rm32_1, Shl_rm8_CL, Shl_rm16_CL, Shl_rm32_CL, Shl_rm8_imm8, Shl_rm16_imm8, Shl_rm32_imm8],
        [Shr_rm8_1, Shr_rm16_1, Shr_rm32_1, Shr_rm8_CL, Shr_rm16_CL, Shr_rm32_CL, Shr_rm8_imm8, Shr_rm16_imm8, Shr_rm32_imm8],
        [Shl_rm8_1, Shl_rm16_1, Shl_rm32_1, Shl_rm8_CL, Shl_rm16_CL, Shl_rm32_CL, Shl_rm8_imm8, Shl_rm16_imm8, Shl_rm32_imm8],
        [Sar_rm8_1, Sar_rm16_1, Sar_rm32_1, Sar_rm8_CL, Sar_rm16_CL, Sar_rm32_CL, Sar_rm8_imm8, Sar_rm16_imm8, Sar_rm32_imm8],
    ]
};

#[rustfmt::skip]
pub const JCC_SHORT: [Code; 16] = {
    use Code::*;
    [Jo_rel8_32, Jno_rel8_32, Jb_rel8_32, Jae_rel8_32, Je_rel8_32, Jne_rel8_32, Jbe_rel8_32, Ja_rel8_32,
     Js_rel8_32, Jns_rel8_32, Jp_rel8_32, Jnp_rel8_32, Jl_rel8_32, Jge_rel8_32, Jle_rel8_32, Jg_rel8_32]
};
#[rustfmt::skip]
pub const JCC_NEAR: [Code; 16] = {
    use Code::*;
    [Jo_rel32_32, Jno_rel32_32, Jb_rel32_32, Jae_rel32_32, Je_rel32_32, Jne_rel32_32, Jbe_rel32_32, Ja_rel32_32,
     Js_rel32_32, Jns_rel32_32, Jp_rel32_32, Jnp_rel32_32, Jl_rel32_32, Jge_rel32_32, Jle_rel32_32, Jg_rel32_32]
};
#[rustfmt::skip]
pub const SETCC: [Code; 16] = {
    use Code::*;
    [Seto_rm8, Setno_rm8, Setb_rm8, Setae_rm8, Sete_rm8, Setne_rm8, Setbe_rm8, Seta_rm8,
     Sets_rm8, Setns_rm8, Setp_rm8, Setnp_rm8, Setl_rm8, Setge_rm8, Setle_rm8, Setg_rm8]
};
/// cmovcc: r16_rm16 then r32_rm32 for each condition.
#[rustfmt::skip]
pub const CMOV: [[Code; 2]; 16] = {
    use Code::*;
    [[Cmovo_r16_rm16, Cmovo_r32_rm32], [Cmovno_r16_rm16, Cmovno_r32_rm32], [Cmovb_r16_rm16, Cmovb_r32_rm32],
     [Cmovae_r16_rm16, Cmovae_r32_rm32], [Cmove_r16_rm16, Cmove_r32_rm32], [Cmovne_r16_rm16, Cmovne_r32_rm32],
     [Cmovbe_r16_rm16, Cmovbe_r32_rm32], [Cmova_r16_rm16, Cmova_r32_rm32], [Cmovs_r16_rm16, Cmovs_r32_rm32],
     [Cmovns_r16_rm16, Cmovns_r32_rm32], [Cmovp_r16_rm16, Cmovp_r32_rm32], [Cmovnp_r16_rm16, Cmovnp_r32_rm32],
     [Cmovl_r16_rm16, Cmovl_r32_rm32], [Cmovge_r16_rm16, Cmovge_r32_rm32], [Cmovle_r16_rm16, Cmovle_r32_rm32],
     [Cmovg_r16_rm16, Cmovg_r32_rm32]]
};
/// bt bts btr btc: rm16_imm8, rm32_imm8, rm16_r16, rm32_r32.
#[rustfmt::skip]
pub const BT: [[Code; 4]; 4] = {
    use Code::*;
    [[Bt_rm16_imm8, Bt_rm32_imm8, Bt_rm16_r16, Bt_rm32_r32], [Bts_rm16_imm8, Bts_rm32_imm8, Bts_rm16_r16, Bts_rm32_r32],
     [Btr_rm16_imm8, Btr_rm32_imm8, Btr_rm16_r16, Btr_rm32_r32], [Btc_rm16_imm8, Btc_rm32_imm8, Btc_rm16_r16, Btc_rm32_r32]]
};
pub const LOOP: [Code; 5] = [Code::Loop_rel8_32_ECX, Code::Loope_rel8_32_ECX, Code::Loopne_rel8_32_ECX, Code::Jecxz_rel8_32, Code::Jcxz_rel8_32];
pub const TABLE: [Code; 4] = [Code::Lgdt_m1632, Code::Lidt_m1632, Code::Sgdt_m1632, Code::Sidt_m1632];
