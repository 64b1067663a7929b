// Exact rational numbers for musical durations (in quarter notes) and onsets.
#pragma once

#include <cstdint>
#include <numeric>
#include <ostream>
#include <stdexcept>
#include <string>

namespace umt {

class Rational {
public:
    constexpr Rational() = default;
    Rational(int64_t num, int64_t den = 1) : num_(num), den_(den) { normalize(); }

    int64_t num() const { return num_; }
    int64_t den() const { return den_; }
    double to_double() const { return static_cast<double>(num_) / static_cast<double>(den_); }
    bool is_zero() const { return num_ == 0; }

    Rational operator+(const Rational& o) const { return {num_ * (o.den_ / g(o)) + o.num_ * (den_ / g(o)), den_ / g(o) * o.den_}; }
    Rational operator-(const Rational& o) const { return *this + Rational(-o.num_, o.den_); }
    Rational operator*(const Rational& o) const { return {num_ * o.num_, den_ * o.den_}; }
    Rational operator/(const Rational& o) const {
        if (o.num_ == 0) throw std::domain_error("rational division by zero");
        return {num_ * o.den_, den_ * o.num_};
    }
    Rational operator-() const { return {-num_, den_}; }
    Rational& operator+=(const Rational& o) { return *this = *this + o; }
    Rational& operator-=(const Rational& o) { return *this = *this - o; }
    Rational& operator*=(const Rational& o) { return *this = *this * o; }
    Rational& operator/=(const Rational& o) { return *this = *this / o; }

    bool operator==(const Rational& o) const { return num_ == o.num_ && den_ == o.den_; }
    bool operator!=(const Rational& o) const { return !(*this == o); }
    bool operator<(const Rational& o) const { return (*this - o).num_ < 0; }
    bool operator>(const Rational& o) const { return o < *this; }
    bool operator<=(const Rational& o) const { return !(o < *this); }
    bool operator>=(const Rational& o) const { return !(*this < o); }

    std::string str() const { return den_ == 1 ? std::to_string(num_) : std::to_string(num_) + "/" + std::to_string(den_); }

private:
    int64_t g(const Rational& o) const { return std::gcd(den_, o.den_); }
    void normalize() {
        if (den_ == 0) throw std::domain_error("rational with zero denominator");
        if (den_ < 0) { num_ = -num_; den_ = -den_; }
        int64_t d = std::gcd(num_ < 0 ? -num_ : num_, den_);
        if (d > 1) { num_ /= d; den_ /= d; }
    }
    int64_t num_ = 0;
    int64_t den_ = 1;
};

inline std::ostream& operator<<(std::ostream& os, const Rational& r) { return os << r.str(); }

}  // namespace umt
