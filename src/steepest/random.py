"""Random numbers with torch's CPU streams: the same seed gives torch's numbers.

torch's CPU generator is a 32-bit Mersenne Twister (MT19937) seeded by ``init_genrand`` with
the low 32 bits of the seed. Every sample is a simple function of that stream, which NumPy's
``MT19937`` produces once given the same state. ``Generator`` holds it, and the functions
below apply torch's transformations (aten's ``TransformationHelper.h``,
``DistributionsHelper.h`` and the CPU kernels of ``DistributionTemplates.h``), checked element
for element against torch:

* a 32-bit draw ``r`` and a 64-bit draw ``R = (r₁ << 32) | r₂`` (two draws, first one high);
* float32 uniform: ``(r & (2²⁴−1)) · 2⁻²⁴``; float64 uniform: ``(R & (2⁵³−1)) · 2⁻⁵³``;
  then ``u · (to − from) + from`` as one fused multiply-add in the tensor's dtype (torch's
  AVX2 build fuses it);
* integers in [low, high): ``r mod (high − low) + low``, or ``R mod …`` when the range is 2²⁸ or
  more; ``random_()``: ``R mod 2⁶³`` for int64, ``R mod (2⁵³ + 1)`` for float64, ``r mod 2³¹``
  for int32, ``r mod (2²⁴ + 1)`` for float32;
* normal, fewer than 16 elements (or not contiguous): Box–Muller on two float64 uniforms,
  ``z = √(−2·log1p(−u₂))·cos(2π·u₁)``, caching ``√(…)·sin(2π·u₁)`` for the next call (in the
  generator's state), then ``z·std + mean`` fused;
* normal, 16 elements or more: all uniforms first, then Box–Muller in blocks of 16 (u₁ = 1 − the
  first 8, u₂ = the last 8); when the size is not a multiple of 16 the last 16 values are
  redrawn. float64 uses libm's ``log``/``cos``/``sin`` (NumPy's SIMD ``log`` differs in the
  last bit); float32 uses torch's AVX2 kernel (``avx_mathfun.h``: Cephes polynomials in
  float32, with the multiply-adds GCC fuses), reproduced here operation for operation;
* Bernoulli: ``u < p``, with a float64 uniform for a number ``p`` (``bernoulli_(p)``, dropout
  masks) or a float64 ``p`` tensor, a float32 uniform for a float32 ``p`` tensor;
* exponential: ``−log1p(−u)/λ`` on float64 uniforms, for float32 tensors too;
* ``randperm(n)``: Fisher–Yates from the front, ``swap(i, i + r mod (n − i))``;
* ``multinomial``: with replacement, a float64 uniform per sample and a binary search in the
  normalised cumulative sum; without replacement (or one sample), ``argmax``/``topk`` of
  ``p / E`` with ``E ~ Exp(1)``.

What this depends on: torch's x86-64 builds on AVX2 or AVX-512 CPUs (its random kernels then
run their AVX2 versions, compiled with fused multiply-adds). On other CPUs (ARM, old x86) torch
computes ``u·(to − from) + from`` and ``z·std + mean`` unfused and its float32 normal with libm,
so ``uniform_(a, b)`` (and so ``nn.Linear``'s initial weights), ``normal`` with a mean or std
and float32 ``randn`` of 16 or more elements can differ there from these values in the last
bit; ``rand``, ``randint``, ``randperm``, ``bernoulli``, ``multinomial`` and float64 ``randn``
are the same everywhere.
"""

from __future__ import annotations

import math
import os
import struct

import numpy as np

from steepest.tensor import _FLOAT_DTYPES, Tensor, _cpu_only, _data_of, _shape_of, \
    bump_version, check_device, get_default_dtype, is_grad_enabled

__all__ = [
    "Generator", "default_generator", "manual_seed", "seed", "initial_seed", "get_rng_state",
    "set_rng_state", "rand", "rand_like", "randn", "randn_like", "randint", "randint_like",
    "randperm", "normal", "bernoulli", "multinomial", "uniform_", "normal_", "random_",
    "bernoulli_", "exponential_",
]

#: torch's seed for its default CPU generator when nobody seeds it (``default_rng_seed_val``)
DEFAULT_SEED = 67280421310721
_MT_N = 624
_STATE_BYTES = 5056  # sizeof(CPUGeneratorImplState): torch's get_state() tensor
_MASK24 = np.uint64((1 << 24) - 1)
_MASK53 = np.uint64((1 << 53) - 1)


def _init_genrand(seed32: int) -> np.ndarray:
    """MT19937's state after ``init_genrand(seed32)`` (what torch's engine does with a seed)."""
    key = [seed32]
    for j in range(1, _MT_N):
        previous = key[-1]
        key.append((1812433253 * (previous ^ (previous >> 30)) + j) & 0xFFFFFFFF)
    return np.array(key, dtype=np.uint32)


class Generator:
    """torch's CPU generator: MT19937 seeded as ``init_genrand``, plus torch's cached normal.

    ``Generator().manual_seed(s)`` gives the stream of ``torch.Generator().manual_seed(s)``;
    pass it as ``generator=`` to any random function, initialiser, ``DataLoader`` or
    ``random_split``. ``get_state()`` is torch's 5056-byte state tensor (uint8), so a state
    saved by torch loads here and the other way round.
    """

    def __init__(self, device="cpu"):
        check_device(device, "Generator")
        self.device = "cpu"
        self._engine = np.random.MT19937()
        self.manual_seed(DEFAULT_SEED)

    # ------------------------------------------------------------------ seeding and state
    def manual_seed(self, seed) -> "Generator":
        """Reseed (torch keeps the full 64-bit seed for ``initial_seed`` and uses its low 32)."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
        seed = int(seed)
        if not -2**63 <= seed < 2**64:
            raise ValueError(f"manual_seed: seed must be in [-2**63, 2**64), got {seed}")
        seed %= 2**64
        self._engine.state = {"bit_generator": "MT19937",
                              "state": {"key": _init_genrand(seed & 0xFFFFFFFF), "pos": _MT_N}}
        self._seed = seed
        self._next_normal = None  # the sine half of torch's last scalar Box-Muller pair
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy and return the new seed."""
        value = int.from_bytes(os.urandom(8), "little")
        self.manual_seed(value)
        return value

    def initial_seed(self) -> int:
        """The seed of the last ``manual_seed``/``seed`` (torch's default before any)."""
        return self._seed

    def get_state(self) -> Tensor:
        """torch's state tensor: uint8 bytes of ``CPUGeneratorImplState`` (5056 of them)."""
        state = self._engine.state["state"]
        pos = int(state["pos"])
        if pos >= _MT_N and np.array_equal(state["key"], _init_genrand(self._seed & 0xFFFFFFFF)):
            left, next_ = 1, 0  # freshly seeded: torch's engine reads next = 0
        else:
            left, next_ = (1, _MT_N) if pos >= _MT_N else (_MT_N + 1 - pos, pos)
        head = struct.pack("<QiiQ", self._seed, left, 1, next_)
        key = np.asarray(state["key"], dtype=np.uint64).tobytes()
        cached = self._next_normal
        tail = struct.pack("<dddii", 0.0, 0.0 if cached is None else cached, 0.0,
                           int(cached is not None), 0) + struct.pack("<f?3x", 0.0, False)
        raw = head + key + tail
        return Tensor._wrap(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, new_state) -> "Generator":
        """Restore a state from ``get_state()`` (this generator's or torch's)."""
        raw = np.ascontiguousarray(np.asarray(_data_of(new_state)))
        if raw.dtype != np.uint8 or raw.size != _STATE_BYTES:
            raise ValueError(f"set_state: expected torch's generator state, a uint8 tensor of "
                             f"{_STATE_BYTES} bytes, got dtype {raw.dtype} with {raw.size} "
                             f"elements")
        raw = raw.tobytes()
        seed, left, _, next_ = struct.unpack_from("<QiiQ", raw, 0)
        key = np.frombuffer(raw, dtype=np.uint64, count=_MT_N, offset=24)
        _, normal_y, _, normal_valid, _ = struct.unpack_from("<dddii", raw, 24 + 8 * _MT_N)
        if not (1 <= left <= _MT_N and 0 <= next_ <= _MT_N) or (key >> np.uint64(32)).any():
            raise ValueError("set_state: this is not a valid MT19937 state (its position or "
                             "its 624 words are out of range)")
        pos = _MT_N if left == 1 else next_
        self._engine.state = {"bit_generator": "MT19937",
                              "state": {"key": key.astype(np.uint32), "pos": pos}}
        self._seed = seed
        self._next_normal = normal_y if normal_valid else None
        return self

    @property
    def bit_generator(self) -> np.random.MT19937:
        """The MT19937 engine itself (its ``state`` holds the stream, not the cached normal)."""
        return self._engine

    def as_numpy(self) -> np.random.Generator:
        """A ``numpy.random.Generator`` that draws from this generator's MT19937 stream (with
        NumPy's transformations, not torch's): for code written against NumPy's methods."""
        return np.random.Generator(self._engine)

    def __repr__(self) -> str:
        return f"<steepest.Generator seed={self._seed}>"

    # ------------------------------------------------------------------ the raw stream
    #: steepest.compile's trace hook: ``hook(engine, n)`` makes (and records) the raw draws
    #: while a step is traced; None otherwise.
    _raw_hook = None

    def _random(self, n: int) -> np.ndarray:
        """``n`` 32-bit draws (torch's ``random()``), as uint64."""
        hook = Generator._raw_hook
        if hook is not None:
            return hook(self._engine, n)
        return self._engine.random_raw(n).astype(np.uint64)

    def _random64(self, n: int) -> np.ndarray:
        """``n`` 64-bit draws (torch's ``random64()``: two 32-bit draws, the first one high)."""
        pairs = self._random(2 * n)
        return (pairs[0::2] << np.uint64(32)) | pairs[1::2]

    def _uniform(self, n: int, dtype) -> np.ndarray:
        """``n`` uniforms in [0, 1) of ``dtype`` (24 or 53 random bits)."""
        if np.dtype(dtype) == np.float64:
            return (self._random64(n) & _MASK53).astype(np.float64) * 2.0 ** -53
        return (self._random(n) & _MASK24).astype(np.float32) * np.float32(2.0 ** -24)


default_generator = Generator()


def _gen(generator, who: str) -> Generator:
    if generator is None:
        return default_generator
    if isinstance(generator, Generator):
        return generator
    raise TypeError(f"{who}: generator must be a steepest.Generator or None, got "
                    f"{type(generator).__name__}")


def manual_seed(seed) -> Generator:
    """Reseed the default generator (``st.manual_seed(0)`` then draws torch's numbers)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Reseed the default generator from the operating system and return the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The default generator's last seed."""
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    """The default generator's state (torch's uint8 format)."""
    return default_generator.get_state()


def set_rng_state(new_state) -> None:
    """Restore the default generator's state from ``get_rng_state()``."""
    default_generator.set_state(new_state)


# ---------------------------------------------------------------------- transformations
def _float_dtype(dtype, who: str) -> np.dtype:
    dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
    if dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{who}: dtype must be float32 or float64, got {dtype}")
    return dtype


def _uniform_values(gen: Generator, n: int, low: float, high: float, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    low, high = dtype.type(low), dtype.type(high)
    fma = _fma64 if dtype == np.float64 else _fma32
    return fma(gen._uniform(n, dtype), high - low, low).astype(dtype, copy=False)


def _libm(function):
    """A libm function over an array (NumPy's SIMD log/log1p differ from libm in the last bit)."""
    return np.frompyfunc(function, 1, 1)


_log, _log1p, _cos, _sin = (_libm(f) for f in (math.log, math.log1p, math.cos, math.sin))


def _box_muller_scalar(gen: Generator, n: int, mean: float, std: float) -> np.ndarray:
    """torch's ``normal_distribution<double>``, one value at a time with the cached sine."""
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        if gen._next_normal is not None:
            z, gen._next_normal = gen._next_normal, None
        else:
            u1, u2 = gen._uniform(2, np.float64)
            radius = math.sqrt(-2.0 * math.log1p(-float(u2)))
            theta = 2.0 * math.pi * float(u1)
            gen._next_normal = radius * math.sin(theta)
            z = radius * math.cos(theta)
        out[i] = z
    return _fma64(out, std, mean)


def _blocks_of_16(uniforms: np.ndarray, mean, std, fill16) -> np.ndarray:
    """torch's ``normal_fill``: Box–Muller on each block of 16; a partial tail redraws the last
    16 values (``uniforms`` holds the n values and then the 16 of the redraw)."""
    n = uniforms.size - (16 if (uniforms.size - 16) % 16 else 0)
    head = uniforms[:n - n % 16].reshape(-1, 2, 8)
    out = np.empty(n, dtype=uniforms.dtype)
    out[:head.size] = fill16(1 - head[:, 0], head[:, 1], mean, std).reshape(-1)
    if n % 16:
        tail = uniforms[n:].reshape(1, 2, 8)
        out[n - 16:] = fill16(1 - tail[:, 0], tail[:, 1], mean, std).reshape(-1)
    return out


def _fill16_double(u1, u2, mean, std):
    radius = np.sqrt(-2.0 * _log(u1).astype(np.float64))
    theta = 2.0 * math.pi * u2
    return np.stack([_fma64(radius * _cos(theta).astype(np.float64), std, mean),
                     _fma64(radius * _sin(theta).astype(np.float64), std, mean)], axis=-2)


def _fma32(a, b, c):
    """float32 fused multiply-add (the product is exact in float64)."""
    return (a.astype(np.float64) * b + c).astype(np.float32)


def _split(a):
    """Veltkamp's split of float64 ``a`` into two halves of 26 bits (hi + lo == a)."""
    t = a * 134217729.0  # 2**27 + 1
    hi = t - (t - a)
    return hi, a - hi


def _fma64(a, b, c):
    """float64 fused multiply-add ``a·b + c`` with one rounding (Dekker's exact product and
    Knuth's two-sum; exact but for ties at the last bit, which random draws do not meet)."""
    a, b, c = (np.asarray(v, dtype=np.float64) for v in (a, b, c))
    p = a * b
    (a_hi, a_lo), (b_hi, b_lo) = _split(a), _split(b)
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    s = p + c
    v = s - p
    t = (p - (s - v)) + (c - v)
    return s + (t + e)


_F = np.float32


def _log_ps(x):
    """``log256_ps`` of avx_mathfun.h (Cephes logf) in float32, for x in (0, 1], with the
    multiply-adds that GCC contracts into FMAs in torch's AVX2 build fused here too."""
    bits = x.view(np.int32)
    e = ((bits >> 23) - 0x7F).astype(np.float32) + _F(1)
    x = ((bits & ~0x7F800000) | np.float32(0.5).view(np.int32)).view(np.float32)
    small = x < _F(0.707106781186547524)
    tmp = np.where(small, x, _F(0))
    x = x - _F(1)
    e = e - np.where(small, _F(1), _F(0))
    x = x + tmp
    z = x * x
    y = _F(7.0376836292E-2)
    for c in (-1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1, 1.4249322787E-1,
              -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1):
        y = _fma32(y, x, _F(c))
    y = _fma32(y * x, z, e * _F(-2.12194440e-4))
    y = _fma32(z, _F(-0.5), y)
    return _fma32(e, _F(0.693359375), x + y)


def _sincos_ps(x):
    """``sincos256_ps`` of avx_mathfun.h (Cephes sinf/cosf) in float32, for x >= 0.

    As in ``_log_ps``, a multiply feeding an add is fused where GCC fuses it in torch's build
    (checked against torch on 200 000 samples)."""
    j = (x * _F(1.27323954473516)).astype(np.int32)
    j = (j + 1) & ~1
    y = j.astype(np.float32)
    swap_sin = (j & 4) != 0
    poly = (j & 2) == 0
    swap_cos = ((j - 2) & 4) == 0
    x = _fma32(y, _F(-0.78515625), x)
    x = _fma32(y, _F(-2.4187564849853515625e-4), x)
    x = _fma32(y, _F(-3.77489497744594108e-8), x)
    z = x * x
    c = _fma32(_F(2.443315711809948E-005), z, _F(-1.388731625493765E-003))
    c = _fma32(c, z, _F(4.166664568298827E-002))
    c = _fma32(c * z, z, -(z * _F(0.5)))
    c = c + _F(1)
    s = _fma32(_F(-1.9515295891E-4), z, _F(8.3321608736E-3))
    s = _fma32(s, z, _F(-1.6666654611E-1))
    s = s * z
    s = _fma32(s, x, x)
    sin = np.where(poly, s, c)
    cos = np.where(poly, c, s)
    return np.where(swap_sin, -sin, sin), np.where(swap_cos, -cos, cos)


def _fill16_float(u1, u2, mean, std):
    radius = np.sqrt(_F(-2) * _log_ps(u1))
    sin, cos = _sincos_ps(_F(2.0 * math.pi) * u2)
    return np.stack([_fma32(radius * cos, _F(std), _F(mean)),
                     _fma32(radius * sin, _F(std), _F(mean))], axis=-2)


def _normal_values(gen: Generator, n: int, mean: float, std: float, dtype,
                   contiguous: bool = True) -> np.ndarray:
    """n values of N(mean, std²) in ``dtype``, as torch's CPU ``normal_kernel``."""
    dtype = np.dtype(dtype)
    if n < 16 or not contiguous:
        return _box_muller_scalar(gen, n, mean, std).astype(dtype)
    uniforms = gen._uniform(n + (16 if n % 16 else 0), dtype)
    if dtype == np.float32:
        return _blocks_of_16(uniforms, mean, std, _fill16_float)
    return _blocks_of_16(uniforms, float(mean), float(std), _fill16_double)


def _integer_values(gen: Generator, n: int, low: int, high: int) -> np.ndarray:
    """n integers in [low, high), torch's ``random_from_to``."""
    span = high - low
    draws = gen._random64(n) if span >= 1 << 28 else gen._random(n)
    # modulo 2**64, as torch's uint64 arithmetic: right for every int64 low and span
    return (draws % np.uint64(span) + np.uint64(low % 2**64)).view(np.int64)


def _bernoulli_scalar(gen: Generator, n: int, p: float) -> np.ndarray:
    """n Bernoulli(p) draws as torch's ``bernoulli_(p)`` makes them: float64 uniforms < p."""
    return gen._uniform(n, np.float64) < p


def _bernoulli_tensor(gen: Generator, p: np.ndarray) -> np.ndarray:
    """One Bernoulli draw per probability in ``p`` (float64 p: 53-bit uniforms, else 24-bit)."""
    dtype = np.float64 if p.dtype == np.float64 else np.float32
    return gen._uniform(p.size, dtype).reshape(p.shape) < p


def _exponential_values(gen: Generator, n: int, lambd: float, dtype) -> np.ndarray:
    u = gen._uniform(n, np.float64)
    return (-1.0 / lambd * _log1p(-u).astype(np.float64)).astype(dtype)


def _randperm_values(gen: Generator, n: int) -> np.ndarray:
    perm = list(range(n))
    for i, draw in enumerate(gen._random(max(n - 1, 0)).tolist()):
        z = i + draw % (n - i)
        perm[i], perm[z] = perm[z], perm[i]
    return np.array(perm, dtype=np.int64)


# ---------------------------------------------------------------------- factories
def _numel(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _made(values: np.ndarray, shape, requires_grad: bool) -> Tensor:
    out = Tensor._wrap(np.ascontiguousarray(values).reshape(shape))
    return out.requires_grad_(True) if requires_grad else out


def _size_args(size, who: str) -> tuple:
    shape = _shape_of(size)
    if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in shape):
        raise ValueError(f"{who}: size must be non-negative ints, got {shape}")
    return tuple(int(s) for s in shape)


def _float_samples(who: str, draw, size, generator, dtype, requires_grad: bool, a: float,
                   b: float) -> Tensor:
    """A float tensor of ``size`` filled by ``draw(gen, n, a, b, dtype)``."""
    shape, dtype = _size_args(size, who), _float_dtype(dtype, who)
    return _made(draw(_gen(generator, who), _numel(shape), a, b, dtype), shape, requires_grad)


def rand(*size, generator=None, dtype=None, requires_grad: bool = False,
         device=None) -> Tensor:
    """Uniform samples in [0, 1) (torch's values after the same seed)."""
    _cpu_only(device, "rand")
    return _float_samples("rand", _uniform_values, size, generator, dtype, requires_grad,
                          0.0, 1.0)


def randn(*size, generator=None, dtype=None, requires_grad: bool = False,
          device=None) -> Tensor:
    """Standard normal samples (torch's values after the same seed)."""
    _cpu_only(device, "randn")
    return _float_samples("randn", _normal_values, size, generator, dtype, requires_grad,
                          0.0, 1.0)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None,
            requires_grad: bool = False, device=None) -> Tensor:
    """Integers in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    _cpu_only(device, "randint")
    if size is None:
        if not isinstance(high, (tuple, list)):
            raise TypeError("randint: give the size, randint(high, size) or "
                            "randint(low, high, size)")
        low, high, size = 0, low, high
    elif high is None:
        raise TypeError("randint: give high, randint(high, size) or randint(low, high, size)")
    low, high = int(low), int(high)
    if high <= low:
        raise ValueError(f"randint: high must be greater than low, got low={low}, "
                         f"high={high}")
    shape = _size_args(size, "randint")
    dtype = np.dtype(np.int64) if dtype is None else np.dtype(dtype)
    values = _integer_values(_gen(generator, "randint"), _numel(shape), low, high)
    return _made(values.astype(dtype), shape, requires_grad)


def randperm(n: int, *, generator=None, dtype=None, requires_grad: bool = False,
             device=None) -> Tensor:
    """A random permutation of 0 … n−1 (torch's for the same seed)."""
    _cpu_only(device, "randperm")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"randperm: n must be a non-negative int, got {n!r}")
    dtype = np.dtype(np.int64) if dtype is None else np.dtype(dtype)
    values = _randperm_values(_gen(generator, "randperm"), int(n))
    return _made(values.astype(dtype), (int(n),), requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None,
           requires_grad: bool = False, device=None) -> Tensor:
    """N(mean, std²) samples, torch's overloads: ``normal(mean, std, size)`` with numbers;
    ``normal(mean_tensor, std)``, ``normal(mean, std_tensor)``, ``normal(mean_t, std_t)``
    (shape broadcast from the tensors: standard normals, times std, plus mean)."""
    _cpu_only(device, "normal")
    gen = _gen(generator, "normal")
    tensors = [v for v in (mean, std) if isinstance(v, (Tensor, np.ndarray))]
    if not tensors:
        if size is None:
            raise TypeError("normal: with a number for mean and for std, give size too, "
                            "e.g. normal(0.0, 1.0, size=(3,))")
        if std < 0:
            raise ValueError(f"normal: std must be >= 0, got {std}")
        return _float_samples("normal", _normal_values, size, gen, dtype, requires_grad, mean,
                              std)
    if size is not None:
        raise TypeError("normal: size is taken from the mean/std tensors; drop size=")
    arrays = [np.asarray(_data_of(v)) for v in tensors]
    if (np.asarray(_data_of(std)) < 0).any():
        raise ValueError("normal: std must be >= 0 everywhere")
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    dtype = np.result_type(*arrays)
    if dtype not in _FLOAT_DTYPES:
        raise TypeError(f"normal: mean and std tensors must be float, got {dtype}")
    values = _normal_values(gen, _numel(shape), 0.0, 1.0, dtype).reshape(shape)
    values = values * np.asarray(_data_of(std), dtype=dtype) + np.asarray(_data_of(mean),
                                                                            dtype=dtype)
    return _made(values.astype(dtype, copy=False), shape, requires_grad)


def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """0/1 samples, 1 with probability ``input`` elementwise (or with the number ``p``)."""
    gen = _gen(generator, "bernoulli")
    probs = np.asarray(_data_of(input))
    if p is not None:
        return Tensor._wrap(_bernoulli_scalar(gen, probs.size, p).reshape(probs.shape)
                            .astype(probs.dtype))
    _check_probabilities(probs, "bernoulli")
    return Tensor._wrap(_bernoulli_tensor(gen, probs).astype(probs.dtype))


def _check_probabilities(probs: np.ndarray, who: str) -> None:
    if probs.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{who}: probabilities must be a float tensor, got dtype {probs.dtype}")
    if probs.size and not ((probs >= 0) & (probs <= 1)).all():
        raise ValueError(f"{who}: probabilities must be in [0, 1], got values from "
                         f"{probs.min()} to {probs.max()}")


def multinomial(input, num_samples: int, replacement: bool = False, *,
                generator=None) -> Tensor:
    """Indices drawn from the categorical distribution(s) of the rows of ``input`` (weights,
    need not sum to 1), with or without replacement: int64, shape (..., num_samples)."""
    gen = _gen(generator, "multinomial")
    weights = np.asarray(_data_of(input))
    if weights.ndim not in (1, 2) or weights.dtype not in _FLOAT_DTYPES:
        raise ValueError(f"multinomial: input must be a 1-D or 2-D float tensor of weights, "
                         f"got shape {weights.shape} and dtype {weights.dtype}")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("multinomial: weights must be finite and >= 0")
    rows = weights.reshape(-1, weights.shape[-1])
    if (rows.sum(axis=1) <= 0).any():
        raise ValueError("multinomial: every row needs a positive sum of weights")
    categories = rows.shape[1]
    if not replacement and num_samples > categories:
        raise ValueError(f"multinomial: cannot draw {num_samples} samples without replacement "
                         f"from {categories} categories")
    if not replacement or num_samples == 1:
        q = _exponential_values(gen, rows.size, 1.0, rows.dtype).reshape(rows.shape)
        ratio = rows / q
        order = np.argsort(-ratio, axis=1, kind="stable")[:, :num_samples]
    else:
        order = np.empty((rows.shape[0], num_samples), dtype=np.int64)
        for i, row in enumerate(rows):
            cumulative = np.cumsum(row, dtype=row.dtype)
            cumulative = cumulative / cumulative[-1]
            cumulative[-1] = 1
            order[i] = np.searchsorted(cumulative, gen._uniform(num_samples, np.float64),
                                       side="left")
    return Tensor._wrap(order.astype(np.int64).reshape(weights.shape[:-1] + (num_samples,)))


def _like(t, dtype) -> tuple:
    data = np.asarray(_data_of(t))
    if dtype is None:
        dtype = data.dtype if data.dtype in _FLOAT_DTYPES else get_default_dtype()
    return data.shape, dtype


def rand_like(input, *, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:
    """``rand`` of ``input``'s shape and float dtype."""
    shape, dtype = _like(input, dtype)
    return rand(shape, dtype=dtype, requires_grad=requires_grad, generator=generator)


def randn_like(input, *, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:
    """``randn`` of ``input``'s shape and float dtype (the default one for integer input)."""
    shape, dtype = _like(input, dtype)
    return randn(shape, dtype=dtype, requires_grad=requires_grad, generator=generator)


def randint_like(input, low, high=None, *, dtype=None, generator=None) -> Tensor:
    """``randint`` of ``input``'s shape and dtype: ``randint_like(x, high)`` or
    ``randint_like(x, low, high)``."""
    data = np.asarray(_data_of(input))
    if high is None:
        low, high = 0, low
    return randint(low, high, data.shape, dtype=dtype or data.dtype, generator=generator)


# ---------------------------------------------------------------------- in place
def _fill(t: Tensor, values: np.ndarray, who: str) -> Tensor:
    """Write ``values`` into ``t`` in place (a graph of its old values becomes stale)."""
    if t.requires_grad and is_grad_enabled():
        raise RuntimeError(f"{who}: a tensor that requires grad is being filled in place; do "
                           f"it under `with st.no_grad():` (as nn.init does)")
    t._data[...] = values.reshape(t.shape)
    bump_version(t)
    return t


def _float_target(t: Tensor, who: str) -> np.dtype:
    if t.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{who}: the tensor must be float32 or float64, got {t.dtype}")
    return t.dtype


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    """Fill ``t`` with U(a, b), torch's values (``Tensor.uniform_``)."""
    dtype = _float_target(t, "uniform_")
    values = _uniform_values(_gen(generator, "uniform_"), t.numel(), a, b, dtype)
    return _fill(t, values, "uniform_")


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    """Fill ``t`` with N(mean, std²), torch's values (``Tensor.normal_``)."""
    dtype = _float_target(t, "normal_")
    if std < 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    values = _normal_values(_gen(generator, "normal_"), t.numel(), mean, std, dtype,
                            contiguous=t._data.flags.c_contiguous)
    return _fill(t, values, "normal_")


_RANDOM_SPAN = {np.dtype(np.int64): 2**63, np.dtype(np.float64): 2**53 + 1,
                np.dtype(np.int32): 2**31, np.dtype(np.float32): 2**24 + 1}


def random_(t: Tensor, from_=None, to=None, *, generator=None) -> Tensor:
    """Fill ``t`` with integers: ``random_()`` over [0, 2^mantissa] (floats) or [0, max]
    (ints), ``random_(to)`` over [0, to), ``random_(from, to)`` over [from, to)."""
    gen = _gen(generator, "random_")
    if from_ is None:
        if t.dtype not in _RANDOM_SPAN:
            raise TypeError(f"random_: supports int64, int32, float32 and float64 tensors, "
                            f"got {t.dtype}")
        span = _RANDOM_SPAN[t.dtype]
        wide = t.dtype in (np.int64, np.float64)
        draws = gen._random64(t.numel()) if wide else gen._random(t.numel())
        return _fill(t, (draws % np.uint64(span)).astype(t.dtype), "random_")
    if to is None:
        from_, to = 0, from_
    if to <= from_:
        raise ValueError(f"random_: to must be greater than from, got from={from_}, to={to}")
    values = _integer_values(gen, t.numel(), int(from_), int(to))
    return _fill(t, values.astype(t.dtype), "random_")


def bernoulli_(t: Tensor, p=0.5, *, generator=None) -> Tensor:
    """Fill ``t`` with 0/1, 1 with probability ``p`` (a number or a tensor of probabilities)."""
    gen = _gen(generator, "bernoulli_")
    if isinstance(p, (Tensor, np.ndarray)):
        probs = np.broadcast_to(np.asarray(_data_of(p)), t.shape)
        _check_probabilities(probs, "bernoulli_")
        return _fill(t, _bernoulli_tensor(gen, probs).astype(t.dtype), "bernoulli_")
    if not 0 <= p <= 1:
        raise ValueError(f"bernoulli_: p must be a probability in [0, 1], got {p}")
    return _fill(t, _bernoulli_scalar(gen, t.numel(), p).astype(t.dtype), "bernoulli_")


def exponential_(t: Tensor, lambd: float = 1.0, *, generator=None) -> Tensor:
    """Fill ``t`` with Exp(lambd) samples, ``−log1p(−u)/lambd``."""
    dtype = _float_target(t, "exponential_")
    if not lambd > 0:
        raise ValueError(f"exponential_: lambd must be > 0, got {lambd}")
    values = _exponential_values(_gen(generator, "exponential_"), t.numel(), lambd, dtype)
    return _fill(t, values, "exponential_")
